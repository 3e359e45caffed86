// Time from navigation to hydrated-and-interactive (the `data-hydrated` marker an Effect sets)
// in headless Chromium on loopback: median of 10 loads of the dashboard, signed in.
import { chromium } from "@playwright/test";

const [url, email, password] = process.argv.slice(2);
const browser = await chromium.launch({
  executablePath: "/usr/bin/chromium",
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
const page = await browser.newPage();
await page.goto(url + "/login");
await page.waitForSelector('[data-hydrated="true"]');
await page.fill("#login-email", email);
await page.fill("#login-password", password);
await page.click("button[type=submit]");
await page.waitForURL(url + "/");
const times = [];
for (let i = 0; i < 10; i++) {
  const t0 = Date.now();
  await page.goto(url + "/", { waitUntil: "commit" });
  await page.waitForSelector('[data-hydrated="true"]');
  times.push(Date.now() - t0);
}
times.sort((a, b) => a - b);
console.log(`navigation to hydrated-and-interactive, median of 10: ${times[5]} ms (min ${times[0]}, max ${times[9]})`);
await browser.close();
