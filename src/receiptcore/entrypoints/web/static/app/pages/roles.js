// /admin/roles: built-in and custom roles with their permissions; create, edit and delete custom roles.
import { api, explain } from "../api.js";
import { confirmDialog, dialog, field, h, mount, toast } from "../dom.js";
import { can } from "../session.js";

const DESCRIPTIONS = {
  "receipts:read": "see own receipts", "receipts:write": "upload, correct, delete own receipts",
  "receipts:read:any": "see everyone's receipts", "receipts:write:any": "change everyone's receipts",
  "users:read": "see users", "users:manage": "create and manage users", "roles:manage": "create and edit roles",
};

export async function render(main) {
  const manage = can("roles:manage");
  let roles = (await api("/roles")).items;
  // every permission some role holds (the admin role holds them all)
  const known = () => [...new Set([...Object.keys(DESCRIPTIONS), ...roles.flatMap((r) => r.permissions)])].sort();
  const list = h("div");
  const permissionChecks = (chosen) => h("fieldset", { class: "checks" }, h("legend", {}, "Permissions"),
    known().map((p) => h("label", {}, h("input", { type: "checkbox", name: "perm", value: p, checked: chosen.includes(p) }), h("span", {}, p, h("span", { class: "muted" }, DESCRIPTIONS[p] ? ` (${DESCRIPTIONS[p]})` : "")))));
  const chosen = (root) => [...root.querySelectorAll("input[name=perm]:checked")].map((i) => i.value);
  const reload = async () => { roles = (await api("/roles")).items; draw(); };

  const edit = async (role) => {
    const description = h("input", { type: "text", value: role.description || "", maxlength: 500 });
    const checks = permissionChecks(role.permissions);
    const body = h("div", {}, field("Description", description), checks);
    if ((await dialog(`Edit role ${role.name}`, body, [{ label: "Cancel", value: "cancel" }, { label: "Save", value: "save", kind: "primary" }])) !== "save") return;
    try {
      await api(`/roles/${encodeURIComponent(role.name)}`, { method: "PATCH", body: { description: description.value, permissions: chosen(checks) } });
      toast(`Role ${role.name} saved; its holders' access follows at once`);
      await reload();
    } catch (error) { toast(explain(error), "error"); }
  };
  const remove = async (role) => {
    if (!(await confirmDialog(`Delete role ${role.name}`, "A role still held by someone cannot be deleted.", "Delete", "danger"))) return;
    try { await api(`/roles/${encodeURIComponent(role.name)}`, { method: "DELETE" }); toast(`Role ${role.name} deleted`); await reload(); } catch (error) { toast(explain(error), "error"); }
  };

  const draw = () => mount(list, roles.map((role) => h("section", { class: "card role-card", dataset: { role: role.name }, "aria-labelledby": `role-${role.name}` },
    h("div", { class: "head" }, h("h2", { id: `role-${role.name}` }, role.name, role.builtin ? h("span", { class: "badge" }, " built-in") : null),
      manage && !role.builtin ? h("div", { class: "row-actions" },
        h("button", { class: "button small", type: "button", onclick: () => edit(role) }, "Edit"),
        h("button", { class: "button small danger", type: "button", onclick: () => remove(role) }, "Delete")) : null),
    role.description ? h("p", { class: "muted" }, role.description) : null,
    h("div", { class: "chips" }, role.permissions.map((p) => h("span", { class: "chip", title: DESCRIPTIONS[p] || p }, p))))));

  const name = h("input", { type: "text", required: true, pattern: "[a-z][a-z0-9_-]{1,47}", autocomplete: "off" });
  const description = h("input", { type: "text", maxlength: 500 });
  const error = h("p", { class: "form-error", role: "alert" });
  let checks = permissionChecks(["receipts:read"]);
  const form = h("form", { onsubmit: async (event) => {
    event.preventDefault();
    error.textContent = "";
    try {
      await api("/roles", { method: "POST", body: { name: name.value.trim(), description: description.value.trim(), permissions: chosen(checks) } });
      toast(`Role ${name.value.trim()} created`);
      form.reset();
      await reload();
    } catch (err) { error.textContent = explain(err); }
  } }, field("Name", name, { hint: "Lower case letters, digits, - and _, e.g. bookkeeper" }), field("Description", description), checks, error,
  h("button", { class: "button primary", type: "submit" }, "Create role"));

  draw();
  mount(main, h("div", { class: "page admin" },
    h("div", { class: "page-head" }, h("h1", { class: "page-title", tabindex: "-1" }, "Roles"), can("users:read") ? h("a", { href: "/admin/users" }, "← Users") : null),
    h("div", { class: "admin-grid" }, list,
      manage ? h("section", { class: "card", "aria-labelledby": "new-role" }, h("h2", { id: "new-role" }, "New role"), form) : null)));
}
