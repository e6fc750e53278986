// /login: email + password. A wrong email and a wrong password get the same answer; a throttled sign-in says how
// long to wait and keeps the button disabled until then.
import { ApiError, login } from "../api.js";
import { field, h, mount } from "../dom.js";
import { afterSignIn } from "../main.js";
import { loadUser } from "../session.js";

function waitText(seconds) {
  if (seconds >= 90) return `${Math.ceil(seconds / 60)} minutes`;
  return `${seconds} second${seconds === 1 ? "" : "s"}`;
}

export function render(main, { query }) {
  const email = h("input", { type: "email", name: "email", autocomplete: "username", required: true, autofocus: true });
  const password = h("input", { type: "password", name: "password", autocomplete: "current-password", required: true });
  const message = h("p", { class: "form-error", role: "alert", id: "login-error" });
  const submit = h("button", { class: "button primary wide", type: "submit" }, "Sign in");
  let timer = null;

  const throttle = (seconds) => {
    let left = seconds;
    submit.disabled = true;
    const tick = () => {
      message.textContent = `Too many failed sign-ins for this account. Try again in ${waitText(left)}.`;
      if (left <= 0) { clearInterval(timer); submit.disabled = false; message.textContent = "You can try again now."; }
      left -= 1;
    };
    tick();
    timer = setInterval(tick, 1000);
  };

  const form = h("form", { class: "login-form", novalidate: false, "aria-describedby": "login-error", onsubmit: async (event) => {
    event.preventDefault();
    message.textContent = "";
    submit.disabled = true;
    submit.textContent = "Signing in…";
    try {
      await login(email.value.trim(), password.value);
      if (!(await loadUser())) throw new ApiError(401, { detail: "the session could not be started" });
      afterSignIn(query.get("next"));
      return;
    } catch (error) {
      if (error instanceof ApiError && error.status === 429) {
        throttle(error.retryAfter || 60);
        submit.textContent = "Sign in";
        return;
      }
      message.textContent = error instanceof ApiError && error.status === 401
        ? "The email or the password is not right."
        : `Signing in failed: ${error.message}`;
      password.select();
    }
    submit.disabled = false;
    submit.textContent = "Sign in";
  } },
  field("Email", email),
  field("Password", password),
  message,
  submit);

  mount(main,
    h("section", { class: "login" },
      h("div", { class: "login-card" },
        h("div", { class: "login-brand" }, h("img", { src: "/static/app/icon.svg", alt: "", width: 40, height: 40 }), h("span", {}, "receiptcore")),
        h("h1", { class: "page-title", tabindex: "-1" }, "Sign in"),
        query.get("expired") ? h("p", { class: "notice" }, "Your session ended. Please sign in again.") : null,
        form,
        h("p", { class: "hint" }, "First start? The server printed the administrator's email and password once; change the password under Settings after signing in."),
      )));
  return { leave: () => clearInterval(timer) };
}
