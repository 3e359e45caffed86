import { test, expect } from "../support/fixtures";
import { admin, base, hydrated, signIn, uniq } from "../support/helpers";

test("pages are rendered on the server before any script runs", async ({ request }) => {
  const res = await request.get(base() + "/login");
  expect(res.status()).toBe(200);
  const html = await res.text();
  expect(html).toContain("Sign in to Mailbridge");
});

test("after hydration, navigation is client-side and a saved value survives a reload", async ({ page }) => {
  await signIn(page, admin.email, admin.password);
  // A marker on window survives only if the page is not reloaded.
  await page.evaluate(() => ((window as any).__mb_marker = "still here"));
  let documentLoads = 0;
  page.on("load", () => documentLoads++);
  await page.getByRole("navigation").getByRole("link", { name: "Mail servers" }).click();
  await expect(page.getByRole("heading", { level: 1 })).toHaveText("Mail servers");
  await expect(page).toHaveURL(/\/mail-servers$/);
  expect(await page.evaluate(() => (window as any).__mb_marker)).toBe("still here");
  expect(documentLoads).toBe(0);

  await page.getByRole("navigation").getByRole("link", { name: "Dashboard" }).click();
  const name = `Org ${uniq()}`;
  await page.getByLabel("Organisation name").fill(name);
  await page.getByRole("button", { name: "Save" }).click();
  await expect(page.getByRole("status")).toHaveText("Saved.");
  await page.reload();
  await expect(page.locator("#org-name")).toContainText(name);
});

test("an invalid value shows the message next to the field and saves nothing", async ({ page }) => {
  await signIn(page, admin.email, admin.password);
  const before = await page.locator("#org-name").textContent();
  await page.getByLabel("Organisation name").fill("x".repeat(81));
  await expect(page.locator("#organisation-name-error")).toContainText("at most 80 characters");
  await page.getByRole("button", { name: "Save" }).click();
  await page.reload();
  await hydrated(page);
  await expect(page.locator("#org-name")).toHaveText(before!);
});
