import { test, expect } from "../support/fixtures";
import { admin, hydrated, signIn, uniq } from "../support/helpers";
import { visit } from "../support/pages";

// What a person could type into a text field: markup that would run if it were rendered as HTML,
// and far more text than a field takes.

test("markup typed into a name is shown as text, in the browser and after a reload, and never runs", async ({ page }) => {
  const dialogs: string[] = [];
  page.on("dialog", async (d) => {
    dialogs.push(d.message());
    await d.dismiss();
  });
  await signIn(page, admin.email, admin.password);
  await visit(page, "/applications");
  // Names are at most 50 characters: a short payload.
  const name = `<img src=x onerror=alert(1)>${uniq()}`;
  await page.getByLabel("Name", { exact: true }).fill(name);
  await page.getByRole("button", { name: "Save" }).click();
  await expect(page.locator("#application-form").getByRole("status")).toContainText("Application created.");

  const table = page.locator("#applications-table");
  await expect(table.getByText(name, { exact: true })).toBeVisible();
  expect(await table.locator("img").count()).toBe(0);

  await page.reload();
  await hydrated(page);
  await expect(table.getByText(name, { exact: true })).toBeVisible();
  expect(await table.locator("img").count()).toBe(0);
  expect(dialogs).toEqual([]);
});

test("a name far over its limit is refused beside the field and nothing is saved", async ({ page }) => {
  await signIn(page, admin.email, admin.password);
  await visit(page, "/applications");
  const before = await page.locator("#applications-table tbody tr").count();
  const huge = "x".repeat(300 * 1024);
  await page.getByLabel("Name", { exact: true }).fill(huge);
  await page.getByRole("button", { name: "Save" }).click();
  await expect(page.locator("#app-name-error")).toContainText("at most");

  await page.reload();
  await hydrated(page);
  await expect(page.locator("#applications-table tbody tr")).toHaveCount(before);
});
