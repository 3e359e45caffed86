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
    register: async (redirectUri: string) => {
      const r = await fetch(`${issuer}/reg`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ redirect_uris: [redirectUri] }),
      });
      if (!r.ok) throw new Error(`registration failed: ${r.status} ${await r.text()}`);
      return (await r.json()) as { client_id: string; client_secret: string };
    },
  };
}
