// Repeating refresh loop: runs `fn`, waits for it to settle, then waits
// `interval` ms before the next run (so slow responses never pile up).
// Pauses while the page is hidden and refreshes right away when it is shown again;
// likewise while nobody is logged in (setPollingPaused), so the loops do not
// keep asking the server for data it would answer with 401.

let paused = false;
const resumers = new Set(); // one per live loop: refresh it now

/** Pause (true) or resume (false) every refresh loop; resuming refreshes right away. */
export function setPollingPaused(p) {
  paused = !!p;
  if (!paused) for (const resume of resumers) resume();
}

export function poll(fn, interval) {
  let timer = null;
  let stopped = false;
  let running = false;
  let again = false; // now() was called while a run was in flight

  async function tick() {
    timer = null;
    if (stopped) return;
    if (running) { again = true; return; }
    if (document.hidden || paused) return; // resumed by visibilitychange / setPollingPaused
    running = true;
    try {
      await fn();
    } catch (err) {
      // fn is expected to show its own errors; never let a rejection escape.
      console.debug('poll: unhandled error', err);
    } finally {
      running = false;
    }
    if (stopped || document.hidden || paused) return;
    if (again) { again = false; tick(); } else timer = setTimeout(tick, interval);
  }

  function onVisibility() {
    if (!document.hidden && !timer && !running && !stopped) tick();
  }

  // After a pause the data may belong to a previous session: refresh now, not at the next tick.
  function onResume() {
    if (stopped || running) return;
    if (timer) clearTimeout(timer);
    timer = null;
    tick();
  }

  document.addEventListener('visibilitychange', onVisibility);
  resumers.add(onResume);
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
      resumers.delete(onResume);
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
