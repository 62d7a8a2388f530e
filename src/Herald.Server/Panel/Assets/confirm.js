// Forms with data-confirm ask before submitting; data-reason also asks for a reason and puts it in the "reason" field.
document.addEventListener('submit', e => {
  const f = e.target;
  if (!(f instanceof HTMLFormElement) || !f.dataset.confirm) return;
  if (f.dataset.reason !== undefined) {
    const reason = window.prompt(f.dataset.confirm + '\n\nReason (required):', '');
    if (!reason || !reason.trim()) { e.preventDefault(); return; }
    let input = f.querySelector('input[name=reason]');
    if (!input) { input = document.createElement('input'); input.type = 'hidden'; input.name = 'reason'; f.appendChild(input); }
    input.value = reason.trim();
  } else if (!window.confirm(f.dataset.confirm)) {
    e.preventDefault();
  }
});
