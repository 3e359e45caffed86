import { test, expect } from "../support/fixtures";
import { admin, base, hydrated, signIn, signOut, uniq } from "../support/helpers";
import { visit } from "../support/pages";
import { adminEnvOf, startServer, stopServer } from "../support/server";

test("admin creates a user; the user cannot open Users, changes their password and signs in with it", async ({ page }) => {
  const email = `user-${uniq()}@example.test`;
  const first = "first password 123";
  const second = "second password 456";

  await signIn(page, admin.email, admin.password, { next: "/users" });
  await page.locator("#new-user-email").fill(email);
  await page.locator("#new-user-name").fill("Test User");
  await page.locator("#new-user-role").selectOption("user");
  await page.locator("#new-user-password").fill(first);
  await page.getByRole("button", { name: "Create user" }).click();
  await expect(page.locator("#new-user").getByRole("status")).toHaveText("User created.");
  await expect(page.locator(`#users-table tr[data-email="${email}"]`)).toBeVisible();
  await signOut(page);

  await signIn(page, email, first);
  // The Users page is refused with an explanation, not a blank page.
  const res = await page.goto(base() + "/users");
  expect(res!.status()).toBe(403);
  await expect(page.getByRole("heading", { level: 1 })).toHaveText("403 — Forbidden");
  await expect(page.getByText("You do not have permission")).toBeVisible();

  await visit(page, "/profile");
  await page.getByLabel("Current password").fill(first);
  await page.getByLabel("New password").fill(second);
  await page.getByRole("button", { name: "Change password" }).click();
  await expect(page.getByRole("status")).toContainText("Password changed");
  await signOut(page);

  // The old password no longer works; the new one does.
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill(first);
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page.locator("#login-error")).toHaveText("Wrong email or password.");
  await signIn(page, email, second);
  await expect(page.getByRole("heading", { level: 1 })).toHaveText("Dashboard");
});

test("a wrong password shows the error next to the form", async ({ page }) => {
  await page.goto(base() + "/login");
  await hydrated(page);
  await page.getByLabel("Email").fill(admin.email);
  await page.getByLabel("Password").fill("definitely wrong");
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page.locator("#login-error")).toHaveText("Wrong email or password.");
  await expect(page).toHaveURL(/\/login/);
});

test("a signed-out visitor is sent to sign in and then back where they were", async ({ page }) => {
  await page.goto(base() + "/profile");
  await expect(page).toHaveURL(/\/login\?next=%2Fprofile/);
  await page.getByLabel("Email").fill(admin.email);
  await page.getByLabel("Password").fill(admin.password);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.waitForURL((u) => u.pathname === "/profile");
  await expect(page.getByRole("heading", { level: 1 })).toHaveText("Profile");
});

test("a session survives a server restart", async ({ page }) => {
  const email = "restart@example.test";
  const password = "restart password 1";
  let server = await startServer({ env: adminEnvOf({ email, password }) });
  try {
    await signIn(page, email, password, { origin: server.url });
    await stopServer(server);
    server = await startServer({ port: server.port, dataDir: server.dataDir, env: server.env });
    await page.goto(server.url + "/users");
    await expect(page).toHaveURL(server.url + "/users");
    await expect(page.getByRole("heading", { level: 1 })).toHaveText("Users");
  } finally {
    await stopServer(server);
  }
});

// Every one of these has been an open redirect somewhere: browsers drop tabs and newlines from
// URLs and read a backslash as a slash, so `/<tab>/evil.example` becomes `//evil.example`.
const hostileNext = [
  "//evil.example",
  "///evil.example",
  "/\t/evil.example",
  "/\n/evil.example",
  "/\r/evil.example",
  "\t//evil.example",
  " //evil.example",
  "/\\evil.example",
  "\\\\evil.example",
  "https://evil.example",
  "https:evil.example",
  "HTTPS://evil.example/",
  "javascript:alert(1)",
  "data:text/html,<script>alert(1)</script>",
  "evil.example",
  "/\u2028/evil.example",
  "/login?next=//evil.example",
  "%2F%2Fevil.example",
];

test("after signing in, a hostile next never leaves Mailbridge", async ({ page, context }) => {
  const origin = new URL(base()).origin;
  for (const next of hostileNext) {
    await context.clearCookies();
    await page.goto(base() + "/login?next=" + encodeURIComponent(next));
    await hydrated(page);
    await page.getByLabel("Email").fill(admin.email);
    await page.getByLabel("Password").fill(admin.password);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.waitForURL((u) => u.pathname !== "/login", { waitUntil: "commit" });
    expect(new URL(page.url()).origin, JSON.stringify(next)).toBe(origin);
    await hydrated(page);
  }
});
