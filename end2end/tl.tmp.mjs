import { chromium } from "@playwright/test";
const [url, email, password] = process.argv.slice(2);
const browser = await chromium.launch({ executablePath: "/usr/bin/chromium", args: ["--headless","--no-sandbox","--disable-gpu"] });
const page = await browser.newPage();
await page.goto(url + "/login");
await page.waitForSelector('[data-hydrated="true"]');
await page.fill("#login-email", email);
await page.fill("#login-password", password);
await page.click("button[type=submit]");
await page.waitForURL(url + "/");
for (let i = 0; i < 4; i++) {
  const t0 = Date.now();
  await page.goto(url + "/", { waitUntil: "commit" });
  await page.waitForSelector('[data-hydrated="true"]');
  const total = Date.now() - t0;
  const r = await page.evaluate(() => {
    const n = performance.getEntriesByType("navigation")[0];
    const res = performance.getEntriesByType("resource");
    const wasm = res.filter(e => e.name.endsWith(".wasm"));
    const js = res.filter(e => e.name.endsWith(".js"));
    const max = a => Math.max(...a.map(e => e.responseEnd));
    return { html: n.responseEnd|0, dcl: n.domContentLoadedEventEnd|0, nwasm: wasm.length, njs: js.length, lastWasm: max(wasm)|0, lastJs: max(js)|0, now: performance.now()|0,
      firstWasmStart: Math.min(...wasm.map(e=>e.startTime))|0 };
  });
  console.log(total, JSON.stringify(r));
}
await browser.close();
