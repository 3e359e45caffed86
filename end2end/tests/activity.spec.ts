import { test, expect } from "../support/fixtures";
import { admin, base, signIn } from "../support/helpers";
import { visit } from "../support/pages";

test("an admin finds a sign-in in Activity, filtered by kind, and exports it as CSV", async ({ page }) => {
  await signIn(page, admin.email, admin.password);
  await visit(page, "/activity");
  await page.getByLabel("Kind", { exact: true }).selectOption("sign_in");
  await page.getByRole("button", { name: "Apply" }).click();
  const rows = page.locator(".activity-table tbody tr");
  await expect(rows.first()).toHaveAttribute("data-kind", "sign_in");
  await expect(rows.first()).toContainText(admin.email);
  await expect(rows.first()).toContainText("127.0.0.1");
  // Every row is a sign-in.
  const kinds = await rows.evaluateAll((trs) => trs.map((tr) => tr.getAttribute("data-kind")));
  expect(new Set(kinds)).toEqual(new Set(["sign_in"]));

  const href = await page.locator("#activity-export").getAttribute("href");
  expect(href).toBe("/activity.csv?kind=sign_in");
  const csv = await page.request.get(`${base()}${href}`);
  expect(csv.status()).toBe(200);
  expect(csv.headers()["content-type"]).toContain("text/csv");
  const text = await csv.text();
  expect(text.split("\r\n")[0]).toContain("time,actor_kind,actor,kind");
  expect(text).toContain(admin.email);

  // A date the other way round names the field and keeps the list as it was.
  await page.getByLabel("From", { exact: true }).fill("2030-01-02");
  await page.getByLabel("To", { exact: true }).fill("2030-01-01");
  await page.getByRole("button", { name: "Apply" }).click();
  await expect(page.locator("#activity-to-error")).toContainText("before From");
  await expect(rows.first()).toHaveAttribute("data-kind", "sign_in");
});
