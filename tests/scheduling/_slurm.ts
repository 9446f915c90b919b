/**
 * A throwaway single-node Slurm cluster for tests: munged with a freshly generated key, slurmctld and
 * slurmd as root, everything (config, state, sockets, logs) in one temp folder and on free local ports,
 * so it touches no system configuration and cannot meet another cluster on the machine. Debian:
 * `apt-get install -y slurm-wlm munge`.
 */
import { join } from "node:path";

const BINARIES = ["munged", "slurmctld", "slurmd", "sbatch", "scontrol", "squeue", "scancel", "sinfo"];
const NODE = "ddnode";

/** Why no cluster can be started here, or null when it can be tried. */
export function slurmUnavailable(): string | null {
  if (Deno.build.os !== "linux") return "Slurm daemons need Linux";
  if (Deno.uid() !== 0) return "slurmctld/slurmd must run as root here (run the tests as root, as CI does)";
  const path = (Deno.env.get("PATH") ?? "") + ":/usr/sbin:/sbin";
  const missing = BINARIES.filter((b) => !path.split(":").some((d) => d && isFile(join(d, b))));
  if (missing.length) return `${missing.join(", ")} not installed (apt-get install -y slurm-wlm munge)`;
  return null;
}

export interface LocalSlurm {
  dir: string;
  /** Environment for Slurm client commands (SLURM_CONF) — pass it to sbatch, squeue, … */
  env: Record<string, string>;
  /** Runs a Slurm client command; throws with its stderr when it fails. */
  run(cmd: string, args: string[], env?: Record<string, string>): Promise<string>;
  /** One job's fields from `scontrol show job -o` (one record per array task). */
  jobs(id: string): Promise<Record<string, string>[]>;
  /** Cancels every job, stops the daemons, removes the folder. */
  stop(): Promise<void>;
  /** The daemons' logs, for failure messages. */
  logs(): string;
}

export async function startLocalSlurm(cpus = 2): Promise<LocalSlurm> {
  const dir = await Deno.makeTempDir({ prefix: "ddrepro-slurm-" });
  await Deno.chmod(dir, 0o755); // munged checks that its socket's folder is not writable by others
  for (const d of ["state", "spool", "munge"]) await Deno.mkdir(join(dir, d), { mode: 0o755 });
  const key = join(dir, "munge", "munge.key");
  await Deno.writeFile(key, crypto.getRandomValues(new Uint8Array(1024)), { mode: 0o400 });
  const socket = join(dir, "munge", "munge.sock");
  const [ctldPort, dPort] = freePorts(2);
  const conf = join(dir, "slurm.conf");
  await Deno.writeTextFile(
    conf,
    [
      "ClusterName=ddrepro-test",
      "SlurmctldHost=localhost(127.0.0.1)",
      `SlurmctldPort=${ctldPort}`,
      `SlurmdPort=${dPort}`,
      "SlurmUser=root",
      "SlurmdUser=root",
      "AuthType=auth/munge",
      "CredType=cred/munge",
      `AuthInfo=socket=${socket}`,
      `StateSaveLocation=${dir}/state`,
      `SlurmdSpoolDir=${dir}/spool`,
      `SlurmctldPidFile=${dir}/slurmctld.pid`,
      `SlurmdPidFile=${dir}/slurmd.pid`,
      `SlurmctldLogFile=${dir}/slurmctld.log`,
      `SlurmdLogFile=${dir}/slurmd.log`,
      "MailProg=/bin/true",
      "ProctrackType=proctrack/linuxproc",
      "TaskPlugin=task/none",
      "SchedulerType=sched/backfill",
      "SelectType=select/cons_tres",
      "SelectTypeParameters=CR_Core",
      "ReturnToService=2",
      "MpiDefault=none",
      "MinJobAge=3600", // keep finished jobs visible to scontrol (no accounting database here)
      "JobCompType=jobcomp/none",
      "AccountingStorageType=accounting_storage/none",
      "JobAcctGatherType=jobacct_gather/none",
      `NodeName=${NODE} NodeAddr=127.0.0.1 NodeHostname=localhost CPUs=${cpus} State=UNKNOWN`,
      `PartitionName=dd Nodes=${NODE} Default=YES MaxTime=INFINITE State=UP`,
      "",
    ].join("\n"),
  );
  const env = { SLURM_CONF: conf };
  const daemons: Deno.ChildProcess[] = [];
  const spawn = (cmd: string, args: string[]) => {
    const child = new Deno.Command(cmd, { args, env, stdin: "null", stdout: "null", stderr: "null" }).spawn();
    daemons.push(child);
  };
  const logs = () =>
    ["munge/munged.log", "slurmctld.log", "slurmd.log"].map((f) => {
      try {
        return `--- ${f}\n${Deno.readTextFileSync(join(dir, f)).slice(-3000)}`;
      } catch {
        return `--- ${f}: none`;
      }
    }).join("\n");
  const run = async (cmd: string, args: string[], extra: Record<string, string> = {}) => {
    const out = await new Deno.Command(cmd, { args, env: { ...env, ...extra }, stdin: "null" }).output();
    const dec = new TextDecoder();
    if (!out.success) {
      throw new Error(`${cmd} ${args.join(" ")} exited ${out.code}: ${dec.decode(out.stderr)}`);
    }
    return dec.decode(out.stdout);
  };
  const jobs = async (id: string) => {
    const text = await run("scontrol", ["show", "job", "-o", id]);
    return text.split("\n").filter((l) => l.trim()).map(parseRecord);
  };
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    // Jobs first (their processes belong to slurmd's steps), then the daemons we started, newest first.
    await run("scancel", ["--full", `--partition=dd`]).catch(() => {});
    for (let i = 0; i < 100; i++) {
      const q = await run("squeue", ["-h", "-o", "%i"]).catch(() => "");
      if (q.trim() === "") break;
      await sleep(200);
    }
    for (const d of daemons.reverse()) {
      try {
        d.kill("SIGTERM");
      } catch { /* already gone */ }
      const done = await Promise.race([d.status.then(() => true), sleep(10_000).then(() => false)]);
      if (!done) {
        try {
          d.kill("SIGKILL");
        } catch { /* gone meanwhile */ }
        await d.status;
      }
    }
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  };

  try {
    spawn("munged", [
      "--foreground",
      "--force",
      `--key-file=${key}`,
      `--socket=${socket}`,
      `--pid-file=${dir}/munge/munged.pid`,
      `--seed-file=${dir}/munge/munged.seed`,
      `--log-file=${dir}/munge/munged.log`,
    ]);
    await waitFor(() => isSocket(socket), 15_000, "munged did not create its socket");
    spawn("slurmctld", ["-D", "-c", "-f", conf]);
    await waitFor(
      () => run("scontrol", ["ping"]).then((s) => /UP/.test(s), () => false),
      30_000,
      "slurmctld did not answer",
    );
    spawn("slurmd", ["-D", "-N", NODE, "-f", conf]);
    await waitFor(
      () => run("sinfo", ["-h", "-n", NODE, "-o", "%T"]).then((s) => /^idle/.test(s.trim()), () => false),
      30_000,
      "slurmd did not register an idle node",
    );
  } catch (e) {
    const message = `${e instanceof Error ? e.message : e}\n${logs()}`;
    await stop();
    throw new Error(message);
  }
  return { dir, env, run, jobs, stop, logs };
}

/** `Key=Value Key=Value …` of `scontrol -o` (values may contain "=" but not spaces, except a few we skip). */
function parseRecord(line: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of line.trim().split(/\s+/)) {
    const eq = part.indexOf("=");
    if (eq > 0) out[part.slice(0, eq)] = part.slice(eq + 1);
  }
  return out;
}

function freePorts(n: number): number[] {
  const listeners = Array.from({ length: n }, () => Deno.listen({ hostname: "127.0.0.1", port: 0 }));
  const ports = listeners.map((l) => (l.addr as Deno.NetAddr).port);
  for (const l of listeners) l.close();
  return ports;
}

async function waitFor(check: () => boolean | Promise<boolean>, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await check()) return;
    await sleep(250);
  }
  throw new Error(`${what} within ${ms / 1000} s`);
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

function isFile(p: string): boolean {
  try {
    return Deno.statSync(p).isFile;
  } catch {
    return false;
  }
}

function isSocket(p: string): boolean {
  try {
    return Deno.statSync(p).isSocket === true;
  } catch {
    return false;
  }
}
