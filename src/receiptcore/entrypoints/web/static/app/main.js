// The shell: routing (one URL per page, history API), the navigation bar, sign-in guard, unsaved-edit guard.
import { onSignedOut } from "./api.js";
import { h, mount } from "./dom.js";
import { startEvents, stopEvents } from "./events.js";
import { can, restore, session, signOut } from "./session.js";

const ROUTES = [
  { path: /^\/login$/, load: () => import("./pages/login.js"), public: true, title: "Sign in" },
  { path: /^\/$/, load: () => import("./pages/inbox.js"), title: "Inbox" },
  { path: /^\/receipts$/, load: () => import("./pages/receipts.js"), title: "Receipts" },
  { path: /^\/receipts\/([0-9a-fA-F-]{1,64})$/, load: () => import("./pages/review.js"), title: "Receipt" },
  { path: /^\/review$/, load: () => import("./pages/review.js"), title: "Review queue", queue: true },
  { path: /^\/dashboard$/, load: () => import("./pages/dashboard.js"), title: "Dashboard" },
  { path: /^\/merchants$/, load: () => import("./pages/merchants.js"), title: "Merchants" },
  { path: /^\/merchants\/([0-9a-fA-F-]{1,64})$/, load: () => import("./pages/merchants.js"), title: "Merchant" },
  { path: /^\/settings$/, load: () => import("./pages/settings.js"), title: "Settings" },
  { path: /^\/admin\/users$/, load: () => import("./pages/users.js"), title: "Users", allowed: () => can("users:read") },
  { path: /^\/admin\/roles$/, load: () => import("./pages/roles.js"), title: "Roles", allowed: () => can("users:read") || can("roles:manage") },
];

const NAV = [
  { href: "/", label: "Inbox" },
  { href: "/receipts", label: "Receipts" },
  { href: "/review", label: "Review" },
  { href: "/dashboard", label: "Dashboard" },
  { href: "/merchants", label: "Merchants" },
  { href: "/admin/users", label: "Users", allowed: () => can("users:read") },
  { href: "/admin/roles", label: "Roles", allowed: () => can("users:read") || can("roles:manage") },
  { href: "/settings", label: "Settings" },
];

let current = null; // { page, dirty() }
let navigating = 0;

export function navigate(url, { replace = false } = {}) {
  if (current && current.dirty && current.dirty() && !window.confirm("You have unsaved changes. Leave this page and lose them?")) return;
  if (replace) history.replaceState(null, "", url);
  else history.pushState(null, "", url);
  render();
}

function drawNav() {
  const topbar = document.getElementById("topbar");
  topbar.hidden = !session.user;
  if (!session.user) return;
  const here = location.pathname;
  mount(document.getElementById("nav"), NAV.filter((item) => !item.allowed || item.allowed()).map((item) => {
    const active = item.href === "/" ? here === "/" : here.startsWith(item.href);
    return h("li", {}, h("a", { href: item.href, "aria-current": active ? "page" : null }, item.label));
  }));
  const who = document.getElementById("whoami");
  who.textContent = session.user.display_name || session.user.email;
  who.title = `${session.user.email}: settings`;
}

async function render() {
  const ticket = ++navigating;
  const path = location.pathname;
  const route = ROUTES.find((r) => r.path.test(path));
  const main = document.getElementById("main");
  if (current && current.leave) current.leave();
  current = null;
  if (!route) {
    drawNav();
    mount(main, h("h1", { class: "page-title", tabindex: "-1" }, "Page not found"), h("p", {}, h("a", { href: "/" }, "Back to the inbox")));
    return;
  }
  if (!route.public && !session.user) {
    const next = path + location.search;
    history.replaceState(null, "", `/login${next !== "/" ? `?next=${encodeURIComponent(next)}` : ""}`);
    return render();
  }
  if (route.public && session.user && path === "/login") {
    history.replaceState(null, "", "/");
    return render();
  }
  drawNav();
  if (route.allowed && !route.allowed()) {
    document.title = "Not allowed · receiptcore";
    mount(main, h("h1", { class: "page-title", tabindex: "-1" }, "Not available"),
      h("p", {}, "Your account does not have access to this page. Ask an administrator if you need it."));
    return;
  }
  const module = await route.load();
  if (ticket !== navigating) return;
  document.title = `${route.title} · receiptcore`;
  const match = route.path.exec(path);
  const page = await module.render(main, { params: match.slice(1), query: new URLSearchParams(location.search), queue: !!route.queue, navigate });
  if (ticket !== navigating) { if (page && page.leave) page.leave(); return; }
  current = page || null;
  const title = main.querySelector(".page-title");
  if (title && document.activeElement === document.body) title.focus({ preventScroll: true });
}

function onClick(event) {
  if (event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
  const link = event.target.closest("a[href]");
  if (!link || link.target || link.hasAttribute("download")) return;
  const url = new URL(link.href, location.href);
  if (url.origin !== location.origin || url.pathname.startsWith("/schema") || url.pathname.startsWith("/api/")) return;
  event.preventDefault();
  if (url.pathname + url.search !== location.pathname + location.search) navigate(url.pathname + url.search);
}

export function afterSignIn(next) {
  startEvents();
  navigate(next && next.startsWith("/") && !next.startsWith("//") ? next : "/", { replace: true });
}

async function boot() {
  document.addEventListener("click", onClick);
  window.addEventListener("popstate", () => render());
  window.addEventListener("beforeunload", (event) => {
    if (current && current.dirty && current.dirty()) { event.preventDefault(); event.returnValue = ""; }
  });
  document.getElementById("signout").addEventListener("click", async () => {
    if (current && current.dirty && current.dirty() && !window.confirm("You have unsaved changes. Sign out anyway?")) return;
    stopEvents();
    await signOut();
    current = null;
    history.pushState(null, "", "/login");
    render();
  });
  onSignedOut(() => {
    if (!session.user) return;
    session.user = null;
    stopEvents();
    const next = location.pathname + location.search;
    history.replaceState(null, "", `/login?expired=1&next=${encodeURIComponent(next)}`);
    render();
  });
  if (await restore()) startEvents();
  await render();
}

boot();
