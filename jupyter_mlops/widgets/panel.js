// The one view of every jupyter-mlops panel: Python renders the HTML (the `html` trait) and owns the
// logic; this draws it, keeps what the user is typing across redraws, and sends clicks back as
// {action, arg, form} messages.

function formValues(root) {
  const form = {};
  for (const el of root.querySelectorAll("[name]")) {
    if (el.type === "checkbox") form[el.name] = el.checked;
    else if (el.type === "radio") { if (el.checked) form[el.name] = el.value; }
    else if (el.multiple) form[el.name] = [...el.selectedOptions].map((o) => o.value);
    else form[el.name] = el.value;
  }
  return form;
}

async function copyText(text) {
  try {
    await navigator.clipboard.writeText(text);
  } catch {
    const area = document.createElement("textarea");
    area.value = text;
    document.body.appendChild(area);
    area.select();
    document.execCommand("copy");
    area.remove();
  }
}

function render({ model, el }) {
  const root = document.createElement("div");
  root.className = "mlops-panel";
  el.appendChild(root);
  const pending = {};  // typed but not yet sent: a redraw from a poll must not undo it

  const draw = () => {
    const active = document.activeElement;
    const focus = active && root.contains(active) && active.name ? active.name : null;
    const caret = focus && "selectionStart" in active ? [active.selectionStart, active.selectionEnd] : null;
    const scrolls = {};
    for (const box of root.querySelectorAll("[data-scroll]")) {
      scrolls[box.dataset.scroll] = box.scrollHeight - box.scrollTop - box.clientHeight < 8 ? -1 : box.scrollTop;
    }
    root.innerHTML = model.get("html");
    for (const [name, value] of Object.entries(pending)) {
      const input = root.querySelector(`[name="${name}"]`);
      if (input && input.type !== "checkbox") input.value = value;
    }
    for (const box of root.querySelectorAll("[data-scroll]")) {
      const top = scrolls[box.dataset.scroll];
      box.scrollTop = top === undefined || top === -1 ? box.scrollHeight : top;
    }
    if (focus) {
      const input = root.querySelector(`[name="${focus}"]`);
      if (input) {
        input.focus();
        if (caret) try { input.setSelectionRange(...caret); } catch {}
      }
    }
  };

  const send = (action, arg) => {
    const form = formValues(root);
    for (const name of Object.keys(pending)) delete pending[name];
    model.send({ action, arg: arg ?? null, form });
  };

  let timer = null;
  root.addEventListener("input", (ev) => {
    const t = ev.target;
    if (!t.name) return;
    pending[t.name] = t.value;
    if (t.dataset.oninput) {
      clearTimeout(timer);
      timer = setTimeout(() => send(t.dataset.oninput, t.value), 300);
    }
  });
  root.addEventListener("change", (ev) => {
    const t = ev.target;
    if (t.dataset.onchange) send(t.dataset.onchange, t.type === "checkbox" ? String(t.checked) : t.value);
  });
  root.addEventListener("keydown", (ev) => {
    const t = ev.target;
    if (ev.key === "Enter" && t.dataset.onenter && !ev.shiftKey) {
      ev.preventDefault();
      clearTimeout(timer);
      send(t.dataset.onenter, t.value);
    }
  });
  root.addEventListener("click", (ev) => {
    const t = ev.target.closest("[data-action]");
    if (!t || !root.contains(t) || t.disabled) return;
    ev.preventDefault();
    send(t.dataset.action, t.dataset.arg);
  });
  const onCustom = (msg) => {
    if (msg && typeof msg.copy === "string") copyText(msg.copy);
  };

  model.on("change:html", draw);
  model.on("msg:custom", onCustom);
  draw();
  // live now: hide the static snapshot shown above for readers without a kernel
  const marker = model.get("snapshot_id");
  if (marker) {
    for (const snap of document.querySelectorAll(`[data-mlops-snapshot="${marker}"]`)) {
      (snap.closest(".jp-OutputArea-child") || snap).style.display = "none";
    }
  }
  return () => {
    model.off("change:html", draw);
    model.off("msg:custom", onCustom);
  };
}

export default { render };
