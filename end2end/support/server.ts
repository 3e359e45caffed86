// Starts and stops the real Mailbridge binary for the tests: a free port, a fresh database in a
// temporary folder, and polling /healthz until it answers.
import { spawn, ChildProcess } from "node:child_process";
import * as fs from "node:fs";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";

export const repoRoot = path.resolve(__dirname, "..", "..");
export const targetDir =
  process.env.CARGO_TARGET_DIR ?? path.join(os.homedir(), ".cache", "mailbridge", "target");
/** `release` for the suite that measures what the browser downloads (a release build's sizes). */
export const profile = process.env.MAILBRIDGE_E2E_PROFILE === "release" ? "release" : "debug";
export const serverBin = path.join(targetDir, profile, "mailbridge");

// The first admin of every test server, created at start on its empty database.
export const admin = { email: "admin@mailbridge.test", password: "e2e admin password" };
/** The environment that makes `who` the first admin of a server started on an empty database. */
export function adminEnvOf(who: { email: string; password: string }): Record<string, string> {
  return { MAILBRIDGE_ADMIN_EMAIL: who.email, MAILBRIDGE_ADMIN_PASSWORD: who.password };
}
export const adminEnv = adminEnvOf(admin);

/** Points the built-in Google provider at another OAuth server (as MAILBRIDGE_GOOGLE_*_URL allow). */
export function googleEnv(issuer: string): Record<string, string> {
  return {
    MAILBRIDGE_GOOGLE_AUTH_URL: `${issuer}/auth`,
    MAILBRIDGE_GOOGLE_TOKEN_URL: `${issuer}/token`,
    MAILBRIDGE_GOOGLE_USERINFO_URL: `${issuer}/me`,
    MAILBRIDGE_GOOGLE_REVOKE_URL: `${issuer}/token/revocation`,
    MAILBRIDGE_GOOGLE_ISSUER: issuer,
    MAILBRIDGE_GOOGLE_JWKS_URL: `${issuer}/jwks`,
  };
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const addr = srv.address();
      const port = typeof addr === "object" && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

export interface RunningServer {
  url: string;
  port: number;
  dataDir: string;
  logFile: string;
  child: ChildProcess;
  env: Record<string, string>;
}

export async function startServer(opts: {
  port?: number;
  dataDir?: string;
  env?: Record<string, string>;
} = {}): Promise<RunningServer> {
  const port = opts.port ?? (await freePort());
  const dataDir = opts.dataDir ?? fs.mkdtempSync(path.join(os.tmpdir(), "mailbridge-e2e-"));
  const url = `http://127.0.0.1:${port}`;
  const env: Record<string, string> = {
    LEPTOS_SITE_ADDR: `127.0.0.1:${port}`,
    LEPTOS_SITE_ROOT: path.join(repoRoot, "target", "site"),
    MAILBRIDGE_DATABASE_URL: `sqlite://${path.join(dataDir, "mailbridge.db")}`,
    MAILBRIDGE_PUBLIC_URL: url,
    // The peers kit listens on loopback, which outbound calls refuse by default.
    MAILBRIDGE_ALLOW_PRIVATE_NETWORKS: "127.0.0.0/8",
    RUST_LOG: "info,sqlx=warn",
    ...(opts.env ?? {}),
  };
  const logFile = path.join(dataDir, "server.log");
  const log = fs.openSync(logFile, "a");
  const child = spawn(serverBin, ["serve"], {
    cwd: repoRoot,
    env: { ...process.env, ...env },
    stdio: ["ignore", log, log],
  });
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) {
      throw new Error(`server exited with ${child.exitCode}: ${fs.readFileSync(logFile, "utf8")}`);
    }
    try {
      const res = await fetch(`${url}/healthz`);
      if (res.ok) return { url, port, dataDir, logFile, child, env };
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  child.kill("SIGKILL");
  throw new Error(`server did not answer /healthz within 60 s: ${fs.readFileSync(logFile, "utf8")}`);
}

export async function stopServer(server: RunningServer, signal: NodeJS.Signals = "SIGTERM") {
  if (server.child.exitCode !== null) return;
  const exited = new Promise((r) => server.child.once("exit", r));
  server.child.kill(signal);
  const timer = setTimeout(() => server.child.kill("SIGKILL"), 10_000);
  await exited;
  clearTimeout(timer);
}

/** Fails when a server's log holds a secret: the tests' client secrets start with GOCSPX-, and
 *  no token field may ever be written out. */
export function assertLogClean(server: RunningServer, secrets: string[] = []) {
  const log = fs.readFileSync(server.logFile, "utf8");
  for (const needle of ["GOCSPX-", "access_token", "refresh_token", "client_secret=", ...secrets]) {
    if (needle && log.includes(needle)) throw new Error(`the server log contains "${needle}"`);
  }
}
