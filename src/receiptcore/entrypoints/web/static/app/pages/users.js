// /admin/users: people (create, disable, enable, set roles, reset a password). Only shown to those who may read
// users; every action is checked again by the API.
import { api, explain, query } from "../api.js";
import { confirmDialog, dialog, field, formatTimestamp, h, mount, toast } from "../dom.js";
import { can, session } from "../session.js";

export async function render(main) {
  const manage = can("users:manage");
  const users = [];
  let after = null;
  let roles = [];
  const tbody = h("tbody");
  const moreBox = h("div", { class: "more" });

  const roleChecks = (chosen, legend) => h("fieldset", { class: "checks" }, h("legend", {}, legend),
    roles.map((r) => h("label", {}, h("input", { type: "checkbox", name: "roles", value: r.name, checked: chosen.includes(r.name) }), r.name)));
  const chosenRoles = (root) => [...root.querySelectorAll("input[name=roles]:checked")].map((i) => i.value);

  const replace = (updated) => { const i = users.findIndex((u) => u.id === updated.id); if (i >= 0) users[i] = updated; draw(); };
  const act = async (fn, done) => { try { const out = await fn(); if (done) done(out); } catch (error) { toast(explain(error), "error"); } };

  const editRoles = async (user) => {
    const box = roleChecks(user.roles, "Roles");
    if ((await dialog(`Roles of ${user.email}`, box, [{ label: "Cancel", value: "cancel" }, { label: "Save roles", value: "save", kind: "primary" }])) !== "save") return;
    act(() => api(`/users/${user.id}/roles`, { method: "PUT", body: { roles: chosenRoles(box) } }), (u) => { replace(u); toast(`Roles of ${u.email} saved`); });
  };
  const toggle = async (user) => {
    const verb = user.disabled ? "enable" : "disable";
    if (!user.disabled && !(await confirmDialog(`Disable ${user.email}`, "They are signed out at once and cannot sign in until enabled again. Their receipts stay.", "Disable", "danger"))) return;
    act(() => api(`/users/${user.id}/${verb}`, { method: "POST" }), (u) => { replace(u); toast(`${u.email} ${verb}d`); });
  };
  const reset = async (user) => {
    if (!(await confirmDialog(`Reset the password of ${user.email}`, "A new one-time password is made and all their sessions end. You will see it once, to hand over.", "Reset password", "danger"))) return;
    act(() => api(`/users/${user.id}/reset-password`, { method: "POST" }), (out) => {
      const code = h("code", { class: "raw" }, out.password);
      dialog("New password", h("div", {}, h("p", {}, `Give this password to ${user.email}; it is shown only now. They should change it under Settings.`), code));
    });
  };

  const draw = () => {
    mount(tbody, users.map((u) => h("tr", { dataset: { userId: u.id } },
      h("td", {}, h("strong", {}, u.email), h("span", { class: "sub" }, u.display_name || "")),
      h("td", {}, h("div", { class: "chips" }, u.roles.map((r) => h("span", { class: "chip" }, r)))),
      h("td", {}, u.disabled ? h("span", { class: "badge status-failed" }, "Disabled") : h("span", { class: "badge status-extracted" }, "Active")),
      h("td", { class: "hide-narrow" }, formatTimestamp(u.created_at)),
      h("td", {}, manage && u.id !== session.user.id ? h("div", { class: "row-actions" },
        h("button", { class: "button small", type: "button", onclick: () => editRoles(u) }, "Roles"),
        h("button", { class: "button small", type: "button", onclick: () => toggle(u) }, u.disabled ? "Enable" : "Disable"),
        h("button", { class: "button small", type: "button", onclick: () => reset(u) }, "Reset password"))
        : h("span", { class: "muted" }, u.id === session.user.id ? "you" : "")))));
    mount(moreBox, after ? h("button", { class: "button", type: "button", onclick: load }, "Load more") : "");
  };
  async function load() {
    const page = await api(`/users${query({ limit: 100, after })}`);
    users.push(...page.items);
    after = page.items.length ? page.next_cursor : null;
    draw();
  }

  const email = h("input", { type: "email", required: true, autocomplete: "off" });
  const name = h("input", { type: "text", autocomplete: "off" });
  const password = h("input", { type: "password", required: true, autocomplete: "new-password", minlength: 12 });
  const error = h("p", { class: "form-error", role: "alert" });
  let createRoles = null;
  const createForm = h("form", { onsubmit: async (event) => {
    event.preventDefault();
    error.textContent = "";
    try {
      const user = await api("/users", { method: "POST", body: { email: email.value.trim(), display_name: name.value.trim(), password: password.value, roles: chosenRoles(createRoles) } });
      users.push(user);
      draw();
      toast(`${user.email} can sign in now`);
      createForm.reset();
      createRoles.querySelectorAll("input").forEach((i) => { i.checked = i.value === "member"; });
    } catch (err) { error.textContent = explain(err); }
  } });

  roles = (await api("/roles")).items;
  createRoles = roleChecks(["member"], "Roles");
  mount(createForm, field("Email", email), field("Name", name), field("Initial password", password, { hint: "At least 12 characters. They can change it under Settings." }),
    createRoles, error, h("button", { class: "button primary", type: "submit" }, "Create user"));

  mount(main, h("div", { class: "page admin" },
    h("div", { class: "page-head" }, h("h1", { class: "page-title", tabindex: "-1" }, "Users"), h("a", { href: "/admin/roles" }, "Roles and permissions →")),
    h("div", { class: "admin-grid" },
      h("div", {}, h("div", { class: "table-wrap" }, h("table", {},
        h("caption", { class: "visually-hidden" }, "Users"),
        h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "User"), h("th", { scope: "col" }, "Roles"), h("th", { scope: "col" }, "Status"),
          h("th", { scope: "col", class: "hide-narrow" }, "Created"), h("th", { scope: "col" }, "Actions"))),
        tbody)), moreBox),
      manage ? h("section", { class: "card", "aria-labelledby": "new-user" }, h("h2", { id: "new-user" }, "Add a person"), createForm) : null)));
  await load();
}
