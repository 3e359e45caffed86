// The real OAuth2/OIDC server of the project's copy of the peers kit (peers/oauth/oidc.mjs),
// started on a free port for the tests that need it.
import { spawn, ChildProcess } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { freePort } from "./server";

export interface Oidc {
  issuer: string;
  child: ChildProcess;
  stop: () => Promise<void>;
  register: (redirectUri: string) => Promise<{ client_id: string; client_secret: string }>;
}

export async function startOidc(knobs: Record<string, string> = {}): Promise<Oidc> {
  const port = await freePort();
  const issuer = `http://127.0.0.1:${port}`;
  const logFile = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "mailbridge-oidc-")), "oidc.log");
  const log = fs.openSync(logFile, "a");
  const child = spawn("node", ["oidc.mjs"], {
    cwd: path.join(__dirname, "..", "peers", "oauth"),
    env: { ...process.env, PEERS_OIDC_PORT: String(port), ...knobs },
    stdio: ["ignore", log, log],
  });
  const deadline = Date.now() + 20_000;
  for (;;) {
    try {
      const r = await fetch(`${issuer}/.well-known/openid-configuration`);
      if (r.ok) break;
    } catch {
      // not up yet
    }
    if (Date.now() > deadline || child.exitCode !== null) {
      child.kill("SIGKILL");
      throw new Error("oidc-provider did not start: " + fs.readFileSync(logFile, "utf8"));
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    issuer,
    child,
    stop: async () => {
      if (child.exitCode === null) {
        const done = new Promise((r) => child.once("exit", r));
        child.kill("SIGTERM");
        await done;
      }
    },
    register: (redirectUri: string) => registerClient(issuer, redirectUri),
  };
}

/** Registers an OAuth client for `redirectUri` at the provider `issuer` (dynamic registration). */
export async function registerClient(issuer: string, redirectUri: string): Promise<{ client_id: string; client_secret: string }> {
  const r = await fetch(`${issuer}/reg`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ redirect_uris: [redirectUri] }),
  });
  if (!r.ok) throw new Error(`registration failed: ${r.status} ${await r.text()}`);
  return (await r.json()) as { client_id: string; client_secret: string };
}

// The whole kit (oidc-provider + Dovecot + Postfix) with its own state folder and free ports.
export interface Kit {
  env: Record<string, string>;
  stop: () => void;
  /** Restarts the authorization server: it forgets every token, as if each grant were revoked. */
  restartAs: () => Promise<void>;
}

export async function startKit(knobs: Record<string, string> = {}): Promise<Kit> {
  const { spawnSync } = await import("node:child_process");
  const kit = path.join(__dirname, "..", "peers");
  const vars: Record<string, string> = {
    PEERS_VAR: `/tmp/mbpeers-e2e-${process.pid}-${Date.now() % 100000}`,
    PEERS_NODE_DIR: path.join(kit, "oauth"),
    ...knobs,
  };
  for (const name of ["PEERS_OIDC_PORT", "PEERS_IMAP_PORT", "PEERS_IMAPS_PORT", "PEERS_SUBMISSION_PORT",
    "PEERS_SMTP_STARTTLS_PORT", "PEERS_SMTPS_PORT", "PEERS_RELAY_PORT", "PEERS_AUTH_PORT"]) {
    vars[name] = String(await freePort());
  }
  // The daemons inherit its output: a pipe would never close, so it goes to a file.
  const logFile = `${vars.PEERS_VAR}.start.log`;
  const log = fs.openSync(logFile, "w");
  const r = spawnSync("bash", [path.join(kit, "start.sh")], { env: { ...process.env, ...vars }, stdio: ["ignore", log, log] });
  if (r.status !== 0) throw new Error("peers did not start: " + fs.readFileSync(logFile, "utf8"));
  const env: Record<string, string> = {};
  for (const line of fs.readFileSync(path.join(vars.PEERS_VAR, "peers.env"), "utf8").split("\n")) {
    const i = line.indexOf("=");
    if (i > 0 && !line.startsWith("#")) env[line.slice(0, i)] = line.slice(i + 1);
  }
  const varDir = vars.PEERS_VAR;
  return {
    env,
    restartAs: async () => {
      const pidFile = path.join(varDir, "run", "oidc.pid");
      const pid = Number(fs.readFileSync(pidFile, "utf8").trim());
      process.kill(pid, "SIGTERM");
      for (let i = 0; i < 50; i++) {
        try { process.kill(pid, 0); } catch { break; }
        await new Promise((r) => setTimeout(r, 100));
      }
      const log = fs.openSync(path.join(varDir, "log", "oidc.log"), "a");
      const child = spawn("node", ["oidc.mjs"], {
        cwd: path.join(varDir, "oauth"),
        env: { ...process.env, ...vars },
        stdio: ["ignore", log, log],
        detached: true,
      });
      child.unref();
      fs.writeFileSync(pidFile, String(child.pid));
      for (let i = 0; i < 100; i++) {
        try {
          if ((await fetch(`${env.PEERS_ISSUER}/.well-known/openid-configuration`)).ok) return;
        } catch {
          // not up yet
        }
        await new Promise((r) => setTimeout(r, 100));
      }
      throw new Error("the authorization server did not come back");
    },
    stop: () => {
      spawnSync("bash", [path.join(kit, "stop.sh"), "--quiet"], { env: { ...process.env, ...vars }, stdio: "ignore" });
      fs.rmSync(vars.PEERS_VAR, { recursive: true, force: true });
      fs.rmSync(logFile, { force: true });
    },
  };
}
