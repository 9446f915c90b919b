/**
 * The WebGPU runtime: pooled buffers, a queue of pending dispatches/copies submitted in batches,
 * staged uploads, cached pipelines, and validation errors surfaced at the next readback.
 *
 * Ordering rules (see docs/webgpu-on-cpu.md): `queue.writeBuffer` takes effect before any
 * unsubmitted pass, so uploads go through a staging buffer copied *inside* the command stream
 * whenever work is pending. Freed buffers return to the pool at once: reuse by a later command is
 * safe because commands execute in order.
 */
import { BindingLimitError, type DType, type Storage } from "../backend.ts";
import type { Kernel } from "../../kernels/kernel.ts";
import type { GpuContext } from "./device.ts";

export class GpuStorage implements Storage {
  constructor(
    readonly buffer: GPUBuffer,
    readonly size: number,
    readonly dtype: DType,
    /** Owned buffers return to the pool on free; views of another storage do not. */
    public live = true,
  ) {}
}

export function gpu(s: Storage): GpuStorage {
  if (!(s instanceof GpuStorage)) throw new Error("storage does not belong to the webgpu backend");
  if (!s.live) throw new Error("use of a freed tensor");
  return s;
}

type Command =
  | {
    kind: "dispatch";
    pipeline: GPUComputePipeline;
    group: GPUBindGroup;
    wg: readonly [number, number, number];
    /** Which op issued it (profiling only). */
    label?: string;
  }
  | { kind: "copy"; src: GPUBuffer; dst: GPUBuffer; bytes: number };

const USAGE = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;
/** Submit after this many commands so the device starts while JS keeps encoding. */
const BATCH = 96;
/**
 * Pooled (freed, kept for reuse) bytes above which the least recently used size buckets are destroyed
 * after a submit. Buckets are exact sizes, so without a bound every phase of a run (expert training at
 * one batch size, unrolled distillation at another) would keep its buffers until exit.
 */
const POOL_CAP_BYTES = 1 << 30;
/** Bind groups kept for reuse; the cache starts over beyond it. */
const BIND_GROUP_CACHE = 8192;

export class Runtime {
  readonly device: GPUDevice;
  private pool = new Map<number, GPUBuffer[]>();
  private pending: Command[] = [];
  private staging: GPUBuffer[] = [];
  private pipelines = new Map<string, GPUComputePipeline>();
  private layouts = new Map<string, GPUBindGroupLayout>();
  /** Bind groups by pipeline and buffers (see `bindGroup`), and the keys that bind each buffer. */
  private groups = new Map<string, GPUBindGroup>();
  private groupsOf = new Map<number, string[]>();
  private ids = new WeakMap<GPUBuffer | GPUComputePipeline, number>();
  private nextId = 1;
  private errors: string[] = [];
  /** Pooled bytes kept after a submit; the rest is destroyed, least recently used size first. */
  poolCapBytes = POOL_CAP_BYTES;
  /** Bytes currently handed out and pooled: for leak tests and the memory report. */
  stats = {
    liveBytes: 0,
    peakLiveBytes: 0,
    pooledBytes: 0,
    dispatches: 0,
    submits: 0,
    pipelines: 0,
    bindGroups: 0,
  };
  /** Device time per op label, when the device writes timestamps (`DD_PROFILE=1`). */
  readonly profile: Map<string, { count: number; ms: number }> | null;
  private profileReads: Promise<void>[] = [];

  constructor(readonly ctx: GpuContext) {
    this.device = ctx.device;
    this.profile = ctx.timestamps ? new Map() : null;
    this.device.addEventListener("uncapturederror", (e) => {
      this.errors.push(String((e as GPUUncapturedErrorEvent).error?.message ?? e));
    });
  }

  /** Largest bindable tensor: a bigger buffer could be created but no kernel could bind it. */
  get maxElements(): number {
    return Math.floor(
      Math.min(this.ctx.limits.maxStorageBufferBindingSize, this.ctx.limits.maxBufferSize) / 16,
    ) * 4;
  }

  alloc(size: number, dtype: DType): GpuStorage {
    // Round to 16 bytes so any buffer may be bound as array<vec4<f32>>.
    const bytes = Math.max(16, Math.ceil((size * 4) / 16) * 16);
    if (size > this.maxElements) {
      // Fail here, at the op that asked, instead of as an invalid bind group at the next readback.
      throw new BindingLimitError(size, this.maxElements);
    }
    const free = this.pool.get(bytes);
    let buf = free?.pop();
    if (free) this.touch(bytes, free);
    if (buf) this.stats.pooledBytes -= bytes;
    else {
      buf = this.device.createBuffer({ size: bytes, usage: USAGE });
    }
    this.stats.liveBytes += bytes;
    // High-water mark of handed-out bytes (reset by assigning it): the bench's memory figures.
    this.stats.peakLiveBytes = Math.max(this.stats.peakLiveBytes, this.stats.liveBytes);
    return new GpuStorage(buf, size, dtype);
  }

  release(s: GpuStorage): void {
    if (!s.live) return;
    s.live = false;
    const bytes = s.buffer.size;
    this.stats.liveBytes -= bytes;
    this.stats.pooledBytes += bytes;
    const list = this.pool.get(bytes) ?? [];
    list.push(s.buffer);
    this.touch(bytes, list);
  }

  /** Moves a size bucket to the most recently used end (Map iteration order is insertion order). */
  private touch(bytes: number, list: GPUBuffer[]): void {
    this.pool.delete(bytes);
    this.pool.set(bytes, list);
  }

  /**
   * Destroys pooled buffers, least recently used buckets first, until at most `poolCapBytes / 2` stay.
   * Only called right after a submit with nothing pending: destroying a buffer that submitted work
   * still uses is valid (the implementation keeps it alive until that work is done), while an encoded
   * but unsubmitted command would fail validation.
   */
  private trimPool(): void {
    if (this.stats.pooledBytes <= this.poolCapBytes) return;
    for (const [bytes, list] of this.pool) {
      while (list.length > 0 && this.stats.pooledBytes > this.poolCapBytes / 2) {
        this.destroy(list.pop()!);
        this.stats.pooledBytes -= bytes;
      }
      if (list.length === 0) this.pool.delete(bytes);
      if (this.stats.pooledBytes <= this.poolCapBytes / 2) break;
    }
  }

  /** Destroys a pooled buffer and forgets the bind groups that bind it. */
  private destroy(buf: GPUBuffer): void {
    const id = this.ids.get(buf);
    if (id !== undefined) {
      for (const k of this.groupsOf.get(id) ?? []) this.groups.delete(k);
      this.groupsOf.delete(id);
    }
    buf.destroy();
  }

  private idOf(o: GPUBuffer | GPUComputePipeline): number {
    let id = this.ids.get(o);
    if (id === undefined) this.ids.set(o, id = this.nextId++);
    return id;
  }

  upload(data: Float32Array | Int32Array): GpuStorage {
    const s = this.alloc(data.length, data instanceof Float32Array ? "f32" : "i32");
    if (data.length === 0) return s;
    if (this.pending.length === 0) {
      this.device.queue.writeBuffer(s.buffer, 0, data as Float32Array<ArrayBuffer>);
    } else {
      const bytes = Math.ceil(data.byteLength / 4) * 4;
      const st = this.device.createBuffer({
        size: bytes,
        usage: GPUBufferUsage.COPY_SRC,
        mappedAtCreation: true,
      });
      new Uint8Array(st.getMappedRange()).set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
      st.unmap();
      this.staging.push(st);
      this.pending.push({ kind: "copy", src: st, dst: s.buffer, bytes });
    }
    return s;
  }

  copy(src: GpuStorage, dst: GpuStorage, elements: number): void {
    if (elements === 0) return;
    this.pending.push({ kind: "copy", src: src.buffer, dst: dst.buffer, bytes: elements * 4 });
  }

  private pipeline(code: string): GPUComputePipeline {
    let p = this.pipelines.get(code);
    if (p) return p;
    const layout = this.layout(code);
    this.device.pushErrorScope("validation");
    const module = this.device.createShaderModule({ code });
    p = this.device.createComputePipeline({
      layout: this.device.createPipelineLayout({ bindGroupLayouts: [layout] }),
      compute: { module, entryPoint: "main" },
    });
    this.device.popErrorScope().then((err) => {
      if (err) this.errors.push(`${err.message}\n--- kernel source ---\n${code}`);
    });
    this.pipelines.set(code, p);
    this.stats.pipelines++;
    return p;
  }

  /** Explicit layouts (not "auto"): a binding the shader happens not to read must still be accepted. */
  private layout(code: string): GPUBindGroupLayout {
    const kinds: string[] = [];
    for (const m of code.matchAll(/@binding\((\d+)\)\s*var<storage,\s*(read_write|read)>/g)) {
      kinds[Number(m[1])] = m[2];
    }
    const key = kinds.join(",");
    let l = this.layouts.get(key);
    if (!l) {
      l = this.device.createBindGroupLayout({
        entries: kinds.map((k, i) => ({
          binding: i,
          visibility: GPUShaderStage.COMPUTE,
          buffer: { type: k === "read" ? "read-only-storage" as const : "storage" as const },
        })),
      });
      this.layouts.set(key, l);
    }
    return l;
  }

  dispatch(k: Kernel, buffers: readonly GpuStorage[]): void {
    if (k.workgroups.some((w) => w === 0)) return;
    const pipeline = this.pipeline(k.code);
    const group = this.bindGroup(pipeline, buffers);
    const label = this.profile ? opLabel(new Error().stack ?? "") : undefined;
    this.pending.push({ kind: "dispatch", pipeline, group, wg: k.workgroups, label });
    this.stats.dispatches++;
    if (this.pending.length >= BATCH) this.flush();
  }

  /**
   * The bind group of `pipeline` over `buffers`, reused while those buffers live: pooled buffers come
   * back in the same order step after step, so a training loop binds the same groups each step and
   * creating them anew was a measurable share of its host time.
   */
  private bindGroup(pipeline: GPUComputePipeline, buffers: readonly GpuStorage[]): GPUBindGroup {
    const ids = buffers.map((b) => this.idOf(b.buffer));
    const key = `${this.idOf(pipeline)}:${ids.join(",")}`;
    let group = this.groups.get(key);
    if (group) return group;
    if (this.groups.size >= BIND_GROUP_CACHE) {
      this.groups.clear();
      this.groupsOf.clear();
    }
    group = this.device.createBindGroup({
      layout: pipeline.getBindGroupLayout(0),
      entries: buffers.map((b, i) => ({ binding: i, resource: { buffer: b.buffer } })),
    });
    this.groups.set(key, group);
    this.stats.bindGroups++;
    for (const id of new Set(ids)) {
      const list = this.groupsOf.get(id);
      if (list) list.push(key);
      else this.groupsOf.set(id, [key]);
    }
    return group;
  }

  flush(): void {
    if (this.pending.length === 0) return;
    const enc = this.device.createCommandEncoder();
    const timed = this.profile ? this.pending.filter((c) => c.kind === "dispatch") : [];
    const qs = timed.length
      ? this.device.createQuerySet({ type: "timestamp", count: 2 * timed.length })
      : null;
    let q = 0;
    let pass: GPUComputePassEncoder | null = null;
    for (const c of this.pending) {
      if (c.kind === "dispatch") {
        if (qs) {
          // Profiling: one pass per dispatch, bracketed by timestamps (adds pass overhead).
          pass?.end();
          pass = enc.beginComputePass({
            timestampWrites: {
              querySet: qs,
              beginningOfPassWriteIndex: 2 * q,
              endOfPassWriteIndex: 2 * q + 1,
            },
          });
          q++;
        }
        pass ??= enc.beginComputePass();
        pass.setPipeline(c.pipeline);
        pass.setBindGroup(0, c.group);
        pass.dispatchWorkgroups(c.wg[0], c.wg[1], c.wg[2]);
      } else {
        pass?.end();
        pass = null;
        enc.copyBufferToBuffer(c.src, 0, c.dst, 0, c.bytes);
      }
    }
    pass?.end();
    const afterSubmit = qs &&
      this.readTimestamps(enc, qs, timed.map((c) => (c.kind === "dispatch" && c.label) || "?"));
    this.device.queue.submit([enc.finish()]);
    afterSubmit?.();
    this.stats.submits++;
    this.pending = [];
    for (const s of this.staging) s.destroy();
    this.staging = [];
    this.trimPool();
  }

  /** Encodes the timestamp readback; the returned function maps it once submitted. */
  private readTimestamps(enc: GPUCommandEncoder, qs: GPUQuerySet, labels: string[]): () => void {
    const bytes = 16 * labels.length;
    const resolved = this.device.createBuffer({
      size: bytes,
      usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC,
    });
    const rb = this.device.createBuffer({
      size: bytes,
      usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
    });
    enc.resolveQuerySet(qs, 0, 2 * labels.length, resolved, 0);
    enc.copyBufferToBuffer(resolved, 0, rb, 0, bytes);
    return () =>
      void this.profileReads.push(
        rb.mapAsync(GPUMapMode.READ).then(() => {
          const t = new BigUint64Array(rb.getMappedRange().slice(0));
          labels.forEach((label, i) => {
            const e = this.profile!.get(label) ?? { count: 0, ms: 0 };
            e.count++;
            e.ms += Number(t[2 * i + 1] - t[2 * i]) / 1e6;
            this.profile!.set(label, e);
          });
          rb.unmap();
          [rb, resolved].forEach((b) => b.destroy());
          qs.destroy();
        }),
      );
  }

  /** Device time per op since the last reset, largest first (empty unless profiling). */
  async profileReport(reset = true): Promise<{ op: string; count: number; ms: number }[]> {
    await this.sync();
    await Promise.all(this.profileReads.splice(0));
    const rows = [...(this.profile ?? new Map()).entries()].map(([op, v]) => ({ op, ...v }));
    if (reset) this.profile?.clear();
    return rows.sort((a, b) => b.ms - a.ms);
  }

  async read(s: GpuStorage): Promise<Float32Array | Int32Array> {
    const bytes = s.size * 4;
    if (bytes === 0) return s.dtype === "f32" ? new Float32Array(0) : new Int32Array(0);
    const rb = this.device.createBuffer({
      size: bytes,
      usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
    });
    this.pending.push({ kind: "copy", src: s.buffer, dst: rb, bytes });
    this.flush();
    await rb.mapAsync(GPUMapMode.READ);
    const raw = rb.getMappedRange().slice(0);
    rb.unmap();
    rb.destroy();
    this.throwErrors();
    return s.dtype === "f32" ? new Float32Array(raw) : new Int32Array(raw);
  }

  /** Waits for submitted work and throws any validation error seen so far. */
  async sync(): Promise<void> {
    this.flush();
    await this.device.queue.onSubmittedWorkDone();
    this.throwErrors();
  }

  private throwErrors(): void {
    if (this.errors.length) {
      const e = this.errors.splice(0);
      throw new Error(`WebGPU error: ${e.join("\n")}`);
    }
  }
}

/**
 * "backendMethod < op < op…" from a dispatch's stack: the backend entry point that generated the
 * kernel and the next three named frames above it (the ops, autograd rules or model code).
 */
function opLabel(stack: string): string {
  const frames = stack.split("\n").slice(1).map((l) => l.trim().replace(/^at /, ""));
  const name = (f: string) => f.split(" (")[0].replace(/^async /, "");
  const i = frames.findIndex((f) => /engine\/webgpu\/(backend|extended)\.ts/.test(f));
  const above = frames.slice(i + 1).filter((f) =>
    !/engine\/(webgpu|tensor)|kernels\//.test(f) && f.includes(" (")
  );
  return [frames[i] ?? "?", ...above.slice(0, 3)].map(name).join(" < ");
}
