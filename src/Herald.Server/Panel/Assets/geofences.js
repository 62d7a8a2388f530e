// Shows the fields of the chosen shape only; the others are disabled so they are not sent.
(() => {
  const shape = document.getElementById('geofence-shape');
  if (!shape) return;
  const sync = () => {
    for (const el of document.querySelectorAll('[data-shape]')) {
      const on = el.dataset.shape === shape.value;
      el.hidden = !on;
      el.disabled = !on;
    }
  };
  shape.addEventListener('change', sync);
  sync();
})();
