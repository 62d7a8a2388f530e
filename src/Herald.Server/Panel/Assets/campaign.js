// Campaign wizard: show only the content fields of the chosen channel (hidden fields are disabled so they are not posted).
(() => {
  const channel = document.getElementById('channel');
  if (!channel) return;
  const sync = () => {
    for (const box of document.querySelectorAll('[data-for]')) {
      const on = box.dataset.for.split(' ').includes(channel.value);
      box.hidden = !on;
      for (const el of box.querySelectorAll('input, textarea, select')) el.disabled = !on;
    }
  };
  channel.addEventListener('change', sync);
  sync();
})();
