// Live campaign report: polls the page's JSON handler and updates every [data-key] number; reloads when the state changes.
(() => {
  const live = document.getElementById('live');
  if (!live) return;
  const fmt = new Intl.NumberFormat('en-US');
  const tick = async () => {
    try {
      const res = await fetch(live.dataset.url, { credentials: 'same-origin', headers: { Accept: 'application/json' } });
      if (!res.ok) throw new Error(res.status);
      const r = await res.json();
      // A new state (sending → sent) changes which actions apply: load the page again to show them.
      if (live.dataset.state && r.state !== live.dataset.state) { location.replace(location.pathname); return; }
      for (const el of document.querySelectorAll('[data-key]')) {
        const v = r[el.dataset.key];
        if (v !== undefined) el.textContent = typeof v === 'number' ? fmt.format(v) : v;
      }
      live.textContent = 'updated ' + new Date().toLocaleTimeString();
    } catch (e) {
      live.textContent = 'could not update (' + e.message + '); retrying';
    }
  };
  setInterval(tick, 3000);
})();
