import { expect, Page } from "@playwright/test";
export { admin } from "./server";

export const base = () => process.env.BASE_URL!;

/** A suffix no other test (or earlier run) uses. */
export function uniq(): string {
  return `${Date.now().toString(36)}${Math.random().toString(36).slice(2, 7)}`;
}

export async function hydrated(page: Page) {
  await expect(page.locator('[data-hydrated="true"]')).toBeVisible();
}

export async function signIn(page: Page, email: string, password: string, next = "/") {
  await page.goto(base() + "/login?next=" + encodeURIComponent(next));
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.waitForURL((u) => u.pathname === next.split("?")[0]);
  await hydrated(page);
}

export async function signOut(page: Page) {
  await page.getByRole("button", { name: "Sign out" }).click();
  await page.waitForURL(/\/login/);
}
