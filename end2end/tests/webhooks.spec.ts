import * as http from "node:http";
import { createHmac, timingSafeEqual } from "node:crypto";
import type { AddressInfo } from "node:net";
import { test, expect } from "../support/fixtures";
import { admin, signIn } from "../support/helpers";
import { visit } from "../support/pages";

/** A receiver as a CRM would run one: it checks each Standard Webhooks signature itself. */
function receiver(): Promise<{ url: string; got: { id: string; body: string; valid: (secret: string) => boolean }[]; close: () => void }> {
  const got: { id: string; body: string; valid: (secret: string) => boolean }[] = [];
  const server = http.createServer((req, res) => {
    let body = "";
    req.on("data", (c) => (body += c));
    req.on("end", () => {
      const id = String(req.headers["webhook-id"] ?? "");
      const ts = String(req.headers["webhook-timestamp"] ?? "");
      const sig = String(req.headers["webhook-signature"] ?? "");
      got.push({
        id,
        body,
        valid: (secret: string) => {
          const key = Buffer.from(secret.replace(/^whsec_/, ""), "base64");
          const want = createHmac("sha256", key).update(`${id}.${ts}.${body}`).digest();
          return sig.split(" ").some((s) => {
            const b = Buffer.from(s.replace(/^v1,/, ""), "base64");
            return b.length === want.length && timingSafeEqual(b, want);
          });
        },
      });
      res.writeHead(204).end();
    });
  });
  return new Promise((resolve) =>
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as AddressInfo;
      resolve({ url: `http://127.0.0.1:${port}/hooks/mailbridge`, got, close: () => server.close() });
    }),
  );
}

test("an admin creates a webhook, keeps its secret, and a test event shows as delivered", async ({ page }) => {
  const rx = await receiver();
  try {
    await signIn(page, admin.email, admin.password);
    await visit(page, "/webhooks");
    await page.getByLabel("URL", { exact: true }).fill(rx.url);
    await page.getByLabel("account.needs_reauth").check();
    await page.getByLabel("account.linked").check();
    await page.getByRole("button", { name: "Create webhook" }).click();

    // The signing secret: shown once, in full.
    const box = page.locator("#created-webhook");
    await expect(box).toBeVisible();
    const secret = await page.locator("#new-secret").inputValue();
    expect(secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
    const row = page.locator(`#webhooks-table tr[data-url="${rx.url}"]`);
    await expect(row).toContainText("account.linked, account.needs_reauth");
    await expect(row).toContainText("active");

    await box.getByRole("link", { name: "Open the webhook" }).click();
    await expect(page.locator("#webhook-url")).toHaveText(rx.url);
    await expect(page.locator("#no-deliveries")).toBeVisible();
    expect(await page.content()).not.toContain(secret.slice(6));

    await page.getByRole("button", { name: "Send test event" }).click();
    // The log reads itself again: delivered, with the receiver's status and the time it took.
    const delivery = page.locator('#deliveries-table tr[data-event="webhook.test"]');
    await expect(delivery).toHaveAttribute("data-state", "delivered");
    await expect(delivery.locator(".code")).toHaveText("204");
    await expect(delivery).toContainText(" ms");
    expect(rx.got).toHaveLength(1);
    expect(rx.got[0].valid(secret)).toBe(true);
    expect(JSON.parse(rx.got[0].body).type).toBe("webhook.test");

    // Redeliver sends the same message again (same id, so the receiver can drop the repeat).
    await delivery.getByRole("button", { name: "Redeliver" }).click();
    await expect.poll(() => rx.got.length).toBe(2);
    expect(rx.got[1].id).toBe(rx.got[0].id);
    expect(rx.got[1].valid(secret)).toBe(true);
  } finally {
    rx.close();
  }
});

test("a webhook form with mistakes names each field and creates nothing", async ({ page }) => {
  await signIn(page, admin.email, admin.password);
  await visit(page, "/webhooks");
  const before = await page.locator("#webhooks-table tbody tr").count();
  await page.getByLabel("URL", { exact: true }).fill("ftp://example.com/hook");
  await page.getByRole("button", { name: "Create webhook" }).click();
  await expect(page.locator("#hook-url-error")).toContainText("https://");
  await expect(page.locator("#hook-events-error")).toContainText("at least one event");
  // A private address passes the browser's parse; the server names the field.
  await page.getByLabel("URL", { exact: true }).fill("https://10.9.8.7/hook");
  await page.getByLabel("account.deleted").check();
  await page.getByRole("button", { name: "Create webhook" }).click();
  await expect(page.locator("#hook-url-error")).toContainText("10.9.8.7");
  await expect(page.locator("#created-webhook")).toHaveCount(0);
  await page.reload();
  await expect(page.locator("#webhooks-table tbody tr")).toHaveCount(before);
});
