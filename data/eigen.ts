/**
 * Eigendecomposition of a real symmetric matrix on the CPU in f64: Householder reduction to
 * tridiagonal form with the transformations accumulated, then the implicit QL algorithm with Wilkinson
 * shifts (the EISPACK tred2/tql2 pair, as in Golub & Van Loan §8.3). O(n³); used once per dataset
 * for ZCA whitening, so it favours simplicity and accuracy over speed.
 *
 * Storage: the working matrix is kept transposed (`z[c·n + r]` holds V[r][c]), so every inner loop
 * of both phases walks memory contiguously and eigenvector k ends up as row k of `z`.
 */

export interface SymmetricEigen {
  n: number;
  /** Ascending eigenvalues. */
  values: Float64Array;
  /** Row-major n×n; row k is the unit eigenvector of values[k]: A = Σ_k λ_k v_k v_kᵀ. */
  vectors: Float64Array;
}

/** `a` is row-major n×n and must be symmetric (only symmetric input is meaningful; it is not checked). */
export function symmetricEigen(a: ArrayLike<number>, n: number): SymmetricEigen {
  if (a.length !== n * n) throw new Error(`symmetricEigen: ${a.length} values for ${n}×${n}`);
  const z = Float64Array.from(a); // symmetric, so A equals its transpose: no reordering needed
  const d = new Float64Array(n), e = new Float64Array(n);
  if (n > 0) {
    tridiagonalize(z, d, e, n);
    implicitQL(z, d, e, n);
  }
  // Ascending order, eigenvectors moving with their values.
  const order = Array.from({ length: n }, (_, i) => i).sort((i, j) => d[i] - d[j]);
  const values = new Float64Array(n), vectors = new Float64Array(n * n);
  order.forEach((src, k) => {
    values[k] = d[src];
    vectors.set(z.subarray(src * n, src * n + n), k * n);
  });
  return { n, values, vectors };
}

/**
 * Householder reduction: on return d is the diagonal, e[1..n-1] the subdiagonal of T = QᵀAQ and
 * z holds Q (transposed layout). Rows are processed from the last up, each annihilating the part
 * of row i left of the subdiagonal with one reflector (scaled by the row's 1-norm for safety).
 */
function tridiagonalize(z: Float64Array, d: Float64Array, e: Float64Array, n: number): void {
  for (let j = 0; j < n; j++) d[j] = z[j * n + n - 1];
  for (let i = n - 1; i > 0; i--) {
    let scale = 0, h = 0;
    for (let k = 0; k < i; k++) scale += Math.abs(d[k]);
    if (scale === 0) {
      // Row already reduced: skip the reflector.
      e[i] = d[i - 1];
      for (let j = 0; j < i; j++) {
        d[j] = z[j * n + i - 1];
        z[j * n + i] = 0;
        z[i * n + j] = 0;
      }
    } else {
      for (let k = 0; k < i; k++) {
        d[k] /= scale;
        h += d[k] * d[k];
      }
      let f = d[i - 1];
      let g = f > 0 ? -Math.sqrt(h) : Math.sqrt(h);
      e[i] = scale * g;
      h -= f * g;
      d[i - 1] = f - g;
      for (let j = 0; j < i; j++) e[j] = 0;
      // e ← A·u (lower triangle of the working block, u = d)
      for (let j = 0; j < i; j++) {
        const col = j * n;
        f = d[j];
        z[i * n + j] = f;
        g = e[j] + z[col + j] * f;
        for (let k = j + 1; k < i; k++) {
          g += z[col + k] * d[k];
          e[k] += z[col + k] * f;
        }
        e[j] = g;
      }
      // p = A·u / h, K = uᵀp / 2h, q = p − K·u
      f = 0;
      for (let j = 0; j < i; j++) {
        e[j] /= h;
        f += e[j] * d[j];
      }
      const hh = f / (h + h);
      for (let j = 0; j < i; j++) e[j] -= hh * d[j];
      // A ← A − u·qᵀ − q·uᵀ (lower triangle)
      for (let j = 0; j < i; j++) {
        const col = j * n;
        f = d[j];
        g = e[j];
        for (let k = j; k < i; k++) z[col + k] -= f * e[k] + g * d[k];
        d[j] = z[col + i - 1];
        z[col + i] = 0;
      }
    }
    d[i] = h;
  }
  // Accumulate the reflectors into Q.
  for (let i = 0; i < n - 1; i++) {
    z[i * n + n - 1] = z[i * n + i];
    z[i * n + i] = 1;
    const h = d[i + 1];
    const ui = (i + 1) * n;
    if (h !== 0) {
      for (let k = 0; k <= i; k++) d[k] = z[ui + k] / h;
      for (let j = 0; j <= i; j++) {
        const col = j * n;
        let g = 0;
        for (let k = 0; k <= i; k++) g += z[ui + k] * z[col + k];
        for (let k = 0; k <= i; k++) z[col + k] -= g * d[k];
      }
    }
    for (let k = 0; k <= i; k++) z[ui + k] = 0;
  }
  for (let j = 0; j < n; j++) {
    d[j] = z[j * n + n - 1];
    z[j * n + n - 1] = 0;
  }
  z[(n - 1) * n + n - 1] = 1;
  e[0] = 0;
}

/**
 * Implicit QL on the tridiagonal (d, e): deflate from the top, one Wilkinson-shifted sweep of Givens
 * rotations per iteration, rotations applied to the eigenvector rows of z.
 */
function implicitQL(z: Float64Array, d: Float64Array, e: Float64Array, n: number): void {
  for (let i = 1; i < n; i++) e[i - 1] = e[i];
  e[n - 1] = 0;
  let f = 0, tst1 = 0;
  const eps = 2 ** -52;
  for (let l = 0; l < n; l++) {
    tst1 = Math.max(tst1, Math.abs(d[l]) + Math.abs(e[l]));
    let m = l;
    while (m < n - 1 && Math.abs(e[m]) > eps * tst1) m++;
    if (m > l) {
      let iter = 0;
      do {
        if (++iter > 100) throw new Error(`symmetricEigen: no convergence for eigenvalue ${l}`);
        // Shift from the leading 2×2 block.
        let g = d[l];
        let p = (d[l + 1] - g) / (2 * e[l]);
        let r = Math.sqrt(p * p + 1);
        if (p < 0) r = -r;
        d[l] = e[l] / (p + r);
        d[l + 1] = e[l] * (p + r);
        const dl1 = d[l + 1];
        let h = g - d[l];
        for (let i = l + 2; i < n; i++) d[i] -= h;
        f += h;
        // Sweep from m up to l.
        p = d[m];
        let c = 1, c2 = 1, c3 = 1, s = 0, s2 = 0;
        const el1 = e[l + 1];
        for (let i = m - 1; i >= l; i--) {
          c3 = c2;
          c2 = c;
          s2 = s;
          g = c * e[i];
          h = c * p;
          r = Math.sqrt(p * p + e[i] * e[i]);
          e[i + 1] = s * r;
          s = e[i] / r;
          c = p / r;
          p = c * d[i] - s * g;
          d[i + 1] = h + s * (c * g + s * d[i]);
          const ri = i * n, rj = (i + 1) * n;
          for (let k = 0; k < n; k++) {
            const a = z[ri + k], b = z[rj + k];
            z[rj + k] = s * a + c * b;
            z[ri + k] = c * a - s * b;
          }
        }
        p = (-s * s2 * c3 * el1 * e[l]) / dl1;
        e[l] = s * p;
        d[l] = c * p;
      } while (Math.abs(e[l]) > eps * tst1);
    }
    d[l] += f;
    e[l] = 0;
  }
}
