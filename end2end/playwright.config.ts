import { defineConfig } from "@playwright/test";

// Playwright cannot download browsers here: drive Debian's Chromium. The background-networking
// flags stop it from calling Google's hosts, which this machine's closed network refuses.
export const chromiumArgs = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

export default defineConfig({
  testDir: "./tests",
  // What the browser downloads is measured on a release build (MAILBRIDGE_E2E_PROFILE=release,
  // run by scripts/test.sh after the rest); everything else on the debug build.
  ...(process.env.MAILBRIDGE_E2E_PROFILE === "release"
    ? { testMatch: /transfer\.spec\.ts/ }
    : { testIgnore: /transfer\.spec\.ts/ }),
  globalSetup: "./support/global-setup.ts",
  timeout: 60_000,
  expect: { timeout: 10_000 },
  fullyParallel: false,
  workers: 1,
  retries: 0,
  reporter: [["list"]],
  use: {
    headless: true,
    launchOptions: { executablePath: "/usr/bin/chromium", args: chromiumArgs },
    trace: "retain-on-failure",
  },
});
