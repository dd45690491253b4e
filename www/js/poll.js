// Repeating refresh loop: runs `fn`, waits for it to settle, then waits
// `interval` ms before the next run (so slow responses never pile up).
// Pauses while the page is hidden and refreshes right away when it is shown again.

export function poll(fn, interval) {
  let timer = null;
  let stopped = false;
  let running = false;
  let again = false; // now() was called while a run was in flight

  async function tick() {
    timer = null;
    if (stopped) return;
    if (running) { again = true; return; }
    if (document.hidden) return; // resumed by visibilitychange
    running = true;
    try {
      await fn();
    } catch (err) {
      // fn is expected to show its own errors; never let a rejection escape.
      console.debug('poll: unhandled error', err);
    } finally {
      running = false;
    }
    if (stopped || document.hidden) return;
    if (again) { again = false; tick(); } else timer = setTimeout(tick, interval);
  }

  function onVisibility() {
    if (!document.hidden && !timer && !running && !stopped) tick();
  }

  document.addEventListener('visibilitychange', onVisibility);
  tick();

  return {
    /** Run now (e.g. after an event), restarting the interval. */
    now() {
      if (stopped) return;
      if (timer) clearTimeout(timer);
      timer = null;
      tick();
    },
    stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      document.removeEventListener('visibilitychange', onVisibility);
    },
  };
}

/** Debounce: collapse bursts of calls (e.g. several task events) into one. */
export function debounce(fn, ms) {
  let t = null;
  return (...args) => {
    if (t) clearTimeout(t);
    t = setTimeout(() => { t = null; fn(...args); }, ms);
  };
}

/** Wrap an async function so runs never overlap: a call during a run asks for exactly one more run after it. */
export function serialized(fn) {
  let running = false;
  let again = false;
  return async function run() {
    if (running) { again = true; return; }
    running = true;
    try {
      await fn();
    } finally {
      running = false;
    }
    if (again) { again = false; run(); }
  };
}
