// `test` with the browser's console errors and uncaught exceptions attached to a failing test,
// so a hydration panic in the WASM shows up in the report instead of as a silent timeout; and a
// test fails when the page's Content-Security-Policy blocked anything.
import { test as base, expect } from "@playwright/test";

export const test = base.extend<{ browserErrors: string[] }>({
  browserErrors: [
    async ({ page }, use, testInfo) => {
      const errors: string[] = [];
      page.on("console", (m) => {
        if (m.type() === "error" || m.type() === "warning") errors.push(`${m.type()}: ${m.text()}`);
      });
      page.on("pageerror", (e) => errors.push(`pageerror: ${e.message}\n${e.stack ?? ""}`));
      await use(errors);
      if (testInfo.status !== testInfo.expectedStatus && errors.length) {
        console.log(`--- browser errors of "${testInfo.title}" ---\n${errors.join("\n").slice(0, 4000)}`);
      }
      const blocked = errors.filter((e) => /Content Security Policy/i.test(e));
      expect(blocked, "CSP violations in the browser console").toEqual([]);
    },
    { auto: true },
  ],
});
export { expect };
