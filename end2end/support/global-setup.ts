// Builds the app with cargo-leptos (unless MAILBRIDGE_E2E_SKIP_BUILD=1), starts the real server on
// a free port with a fresh database, hands its URL to the tests through BASE_URL, and stops it
// afterwards — also when tests fail or the run is interrupted.
import { spawnSync } from "node:child_process";
import type { FullConfig } from "@playwright/test";
import { adminEnv, assertLogClean, profile, repoRoot, startServer, stopServer, targetDir } from "./server";

export default async function globalSetup(_config: FullConfig) {
  if (process.env.MAILBRIDGE_E2E_SKIP_BUILD !== "1") {
    // --split: the page groups are WASM chunks of their own (lazy routes need it in every build).
    const args = ["leptos", "build", "--split"];
    if (profile === "release") args.push("--release", "--precompress");
    const build = spawnSync("cargo", args, {
      cwd: repoRoot,
      stdio: "inherit",
      env: { ...process.env, CARGO_TARGET_DIR: targetDir },
    });
    if (build.status !== 0) throw new Error("cargo leptos build failed");
  }
  const server = await startServer({ env: adminEnv });
  process.env.BASE_URL = server.url;
  process.env.MAILBRIDGE_E2E_DATA = server.dataDir;
  const stop = () => stopServer(server, "SIGKILL");
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
  return async () => {
    await stopServer(server);
    assertLogClean(server);
  };
}
