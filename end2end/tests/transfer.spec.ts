// What the browser downloads (issue 18), on a release build (MAILBRIDGE_E2E_PROFILE=release, run
// by scripts/test.sh after the debug suite; scripts/bench.sh prints the same table): every /pkg
// file goes as its brotli copy and is kept a year under its content-hashed name; the bytes on the
// wire of a first visit and of a second one (from the browser's cache) stay within budget.
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as http from "node:http";
import * as path from "node:path";
import type { BrowserContext, Page } from "@playwright/test";
import { test, expect } from "../support/fixtures";
import { admin, base } from "../support/helpers";
import { repoRoot } from "../support/server";

// Budgets, in bytes on the wire (headers included), at what the split release build achieves,
// so that a regression fails. Issue 18 aims at 150 KB for a first page: not reached — the main
// module alone (router, reactive runtime, JSON codec and the layout every page shares) is about
// 183 KB brotli; /login adds its chunk and five small shared ones (231 KB in all), the
// dashboard its own chunk and five shared ones (287 KB).
const FIRST_VISIT_BUDGET = { login: 240 * 1024, dashboard: 300 * 1024 };
// The pages are split into four groups (sign-in, dashboard, a user's pages, admin), so a first
// visit fetches the page, the main JS and WASM, the CSS, the loader and a handful of chunks. With a
// chunk per page it was 44 and 100 files, and instantiating ~90 modules made hydration slow.
const FIRST_VISIT_MAX_FILES = 12;
// A second visit fetches the page and nothing from /pkg.
const SECOND_VISIT_BUDGET = 20 * 1024;

const pkgDir = path.join(repoRoot, "target", "site", "pkg");

/** The page groups (`split_<group>_chunk_*.wasm`, `app/src/lazy_pages.rs`) among fetched paths. */
function groupsOf(paths: string[]): string[] {
  const groups = paths.filter((p) => p.startsWith("/pkg/split_")).map((p) => p.replace(/^\/pkg\/split_(.+)_chunk_.*$/, "$1"));
  return [...new Set(groups)].sort();
}

/** Signs `context` in through the real `/api/login`, so its pages open as that user's. */
async function signIn(context: BrowserContext, email: string, password: string) {
  const res = await context.request.post(`${base()}/api/login`, { form: { email, password }, maxRedirects: 0 });
  expect(res.status(), `sign-in of ${email}`).toBeLessThan(400);
}

/** One GET; the status, headers and body as sent (not decoded). */
function raw(url: string, headers: Record<string, string>) {
  return new Promise<{ status: number; headers: http.IncomingHttpHeaders; body: Buffer }>((resolve, reject) => {
    http
      .get(url, { headers }, (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c) => chunks.push(c));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      })
      .on("error", reject);
  });
}

test("every /pkg file of the release build goes as its brotli copy, smaller, kept a year", async () => {
  const files = fs.readdirSync(pkgDir).filter((f) => !/\.(br|gz)$/.test(f));
  expect(files.some((f) => /^mailbridge\.[A-Za-z0-9_-]{22}\.wasm$/.test(f)), "a hashed main WASM").toBe(true);
  let rawTotal = 0;
  let sentTotal = 0;
  for (const f of files) {
    const onDisk = fs.readFileSync(path.join(pkgDir, f));
    const res = await raw(`${base()}/pkg/${f}`, { "accept-encoding": "br" });
    expect(res.status, f).toBe(200);
    expect(res.headers["content-encoding"], f).toBe("br");
    expect(res.body.equals(fs.readFileSync(path.join(pkgDir, f + ".br"))), `${f}: the precompressed copy`).toBe(true);
    // Small files gain little (brotli's frame costs a few bytes); big ones must shrink by half.
    if (onDisk.length > 1024) expect(res.body.length, f).toBeLessThan(onDisk.length);
    if (onDisk.length > 16 * 1024) expect(res.body.length, f).toBeLessThan(onDisk.length * 0.5);
    // Kept a year only under a name that is the hash of the bytes (a split build rewrites the
    // main JS and WASM after naming them: those must be revalidated).
    const hash = crypto.createHash("md5").update(onDisk).digest("base64url");
    expect(res.headers["cache-control"], f).toBe(
      f.includes(`.${hash}.`) ? "public, max-age=31536000, immutable" : "no-cache",
    );
    rawTotal += onDisk.length;
    sentTotal += res.body.length;
  }
  console.log(`/pkg: ${files.length} files, ${(rawTotal / 1024).toFixed(1)} KB on disk, ${(sentTotal / 1024).toFixed(1)} KB as sent (brotli)`);
});

/** Bytes on the wire (Chromium's encodedDataLength: headers and compressed body) of loading
 *  `url` until the page is hydrated and the network is quiet. */
async function visit(context: BrowserContext, page: Page, url: string) {
  const cdp = await context.newCDPSession(page);
  await cdp.send("Network.enable");
  let bytes = 0;
  let requests = 0;
  const urls = new Map<string, string>();
  const each: [string, number][] = [];
  cdp.on("Network.requestWillBeSent", (e: { requestId: string; request: { url: string } }) => {
    urls.set(e.requestId, e.request.url);
  });
  cdp.on("Network.loadingFinished", (e: { requestId: string; encodedDataLength: number }) => {
    bytes += e.encodedDataLength;
    requests += 1;
    each.push([urls.get(e.requestId) ?? "?", e.encodedDataLength]);
  });
  await page.goto(url);
  await expect(page.locator('[data-hydrated="true"]')).toBeVisible();
  await page.waitForLoadState("networkidle");
  await cdp.detach();
  const largest = each
    .sort((a, b) => b[1] - a[1])
    .slice(0, 12)
    .map(([u, n]) => `${(n / 1024).toFixed(1)} KB ${new URL(u).pathname}`);
  const fetched = each.map(([u]) => (u === "?" ? u : new URL(u).pathname));
  return { bytes, requests, largest, fetched };
}

test("a first visit stays within budget and a second one comes from the cache", async ({ browser }) => {
  const rows: string[] = [];
  const kb = (n: number) => `${(n / 1024).toFixed(1)} KB`;
  // `group`: the page's own lazy chunk (`split_<group>_chunk_*.wasm`); the other groups' chunks
  // must not be fetched.
  const check = async (label: string, pathname: string, signedIn: boolean, budget: number, group: string) => {
    const context = await browser.newContext();
    if (signedIn) await signIn(context, admin.email, admin.password);
    const page = await context.newPage();
    const first = await visit(context, page, base() + pathname);
    const second = await visit(context, page, base() + pathname);
    rows.push(`| ${label} | ${first.requests} | ${kb(first.bytes)} | ${kb(second.bytes)} |`);
    if (first.bytes >= budget) console.log(`${label}, largest:\n  ${first.largest.join("\n  ")}`);
    expect(first.bytes, `${label}: first visit`).toBeLessThan(budget);
    expect(first.requests, `${label}: files fetched on a first visit`).toBeLessThanOrEqual(FIRST_VISIT_MAX_FILES);
    expect(second.bytes, `${label}: second visit`).toBeLessThan(SECOND_VISIT_BUDGET);
    expect(groupsOf(first.fetched), `${label}: the page groups whose chunk a first visit fetched`).toEqual([group]);
    await context.close();
  };
  await check("/login", "/login", false, FIRST_VISIT_BUDGET.login, "sign_in");
  await check("dashboard (signed in)", "/", true, FIRST_VISIT_BUDGET.dashboard, "dashboard");
  console.log(
    [
      "| page | files | first visit, on the wire | second visit, on the wire |",
      "|---|---:|---:|---:|",
      ...rows,
    ].join("\n"),
  );
});

test("a user (not an admin) going from the dashboard to their mail accounts and profile never fetches the admin pages' chunk", async ({ browser }) => {
  const email = `reader-${Date.now().toString(36)}@example.test`;
  const password = "reader password 123";
  const adminCtx = await browser.newContext();
  await signIn(adminCtx, admin.email, admin.password);
  const created = await adminCtx.request.post(`${base()}/api/create_user`, { form: { email, name: "Reader", role: "user", password } });
  expect(created.status(), await created.text()).toBe(200);
  await adminCtx.close();

  const context = await browser.newContext();
  await signIn(context, email, password);
  const page = await context.newPage();
  const fetched: string[] = [];
  page.on("request", (r) => fetched.push(new URL(r.url()).pathname));
  await page.goto(base() + "/");
  await expect(page.locator('[data-hydrated="true"]')).toBeVisible();
  // Client-side navigation, as a person clicks: the router fetches the target's chunk.
  await page.getByRole("link", { name: "Mail accounts" }).click();
  await expect(page.getByRole("heading", { level: 1 })).toHaveText("Mail accounts");
  await page.getByRole("link", { name: "Reader" }).click();
  await expect(page.getByRole("heading", { level: 1 })).toHaveText("Profile");
  await page.waitForLoadState("networkidle");
  expect(groupsOf(fetched)).toEqual(["dashboard", "mailbox"]);
  await context.close();
});
