import { expect, Page } from "@playwright/test";
export { admin } from "./server";

export const base = () => process.env.BASE_URL!;

/** Which Mailbridge a helper drives: the suite's server (`base()`) unless a spec starts its own. */
export interface At {
  origin?: string;
}
export const originOf = (at: At = {}) => at.origin ?? base();

/** A suffix no other test (or earlier run) uses. */
export function uniq(): string {
  return `${Date.now().toString(36)}${Math.random().toString(36).slice(2, 7)}`;
}

/** Waits for the page's one hydration marker (a strict locator: two markers would be an error). */
export async function hydrated(page: Page) {
  await expect(page.locator('[data-hydrated="true"]')).toBeVisible();
}

/** Signs in through the form, waits for the app to land exactly on `next` (default "/") of the
 *  same server, and for that page to hydrate. */
export async function signIn(page: Page, email: string, password: string, opts: At & { next?: string } = {}) {
  const origin = originOf(opts);
  const next = opts.next ?? "/";
  await page.goto(origin + "/login?next=" + encodeURIComponent(next));
  await hydrated(page);
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Sign in" }).click();
  const target = new URL(next, origin).href;
  await page.waitForURL((u) => u.href === target);
  await hydrated(page);
}

export async function signOut(page: Page) {
  await page.getByRole("button", { name: "Sign out" }).click();
  await page.waitForURL(/\/login/);
}
