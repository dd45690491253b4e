// The banner of Node → Network while pending changes run on trial (beyond PVE: POST …/network/trial
// applied them with a timeout; GET …/network/changes answers `rollback-at`, epoch seconds): a countdown to
// the rollback and Keep these settings (POST …/network/confirm). When the time runs out the node has gone
// back to its previous settings by itself; the banner says so and asks the view to read everything again.

import { api, errorText } from '../api.js';
import { h, icon, setText } from '../dom.js';

/** "1:05" */
const clock = (s) => `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;

/**
 * trialBanner({confirmPath, signal, feedback, onEnd}) → {el, show(rollbackAt), started(rollbackAt, localDeadline), hide()}.
 * show(0) hides a running countdown (an ended one stays until the next show(n > 0) or hide()); onEnd() is
 * called after a keep or a rollback, for the view to read the list and the changes again.
 */
export function trialBanner({ confirmPath, signal, feedback, onEnd }) {
  const message = h('span');
  const keepBtn = h('button', { type: 'button', class: 'btn btn-primary', dataset: { action: 'keep' }, onclick: () => keep() },
    icon('check'), 'Keep these settings');
  const el = h('div', { class: 'notice notice-warn net-trial', dataset: { role: 'trial', state: 'none' }, hidden: true },
    icon('alert'), message, keepBtn);
  let deadline = 0;  // rollback-at, server epoch seconds
  let skew = 0;      // server clock minus browser clock, seconds (measured when this page started the trial)
  let timer = null;
  let checks = 0;    // reads after the time ran out, while the server still reports the trial

  const left = () => Math.ceil(deadline - skew - Date.now() / 1000);
  function stopTimer() { if (timer) clearInterval(timer); timer = null; }

  function tick() {
    const s = left();
    if (s > 0) {
      setText(message, `The new network settings are on trial. Unless you keep them, the node goes back to the previous ones in ${clock(s)}.`);
      return;
    }
    stopTimer();
    el.dataset.state = 'rolled-back';
    keepBtn.hidden = true;
    setText(message, 'The time ran out: the node went back to its previous network settings, which run again.');
    recheck();
  }

  /** Read again a little later (the rollback takes a moment; the server then stops reporting the trial). */
  function recheck() {
    if (checks++ < 5) setTimeout(() => { if (!signal.aborted) onEnd(); }, 3000);
  }

  async function keep() {
    keepBtn.disabled = true;
    try {
      await feedback.run('Keep the new network settings', () => api(confirmPath, { method: 'POST', signal }));
      stopTimer();
      deadline = 0;
      el.dataset.state = 'kept';
      keepBtn.hidden = true;
      setText(message, 'Kept: the new network settings stay.');
    } catch (e) {
      if (e.name === 'AbortError') return;
      console.debug('keep network settings:', errorText(e));
    } finally {
      keepBtn.disabled = false;
    }
    onEnd();
  }

  signal.addEventListener('abort', stopTimer, { once: true });
  return {
    el,
    /** The rollback-at the server reports (0: no trial). */
    show(rollbackAt) {
      if (!rollbackAt) {
        if (el.dataset.state === 'running') { stopTimer(); el.hidden = true; el.dataset.state = 'none'; }
        return;
      }
      if (rollbackAt === deadline && timer) return;
      if (rollbackAt !== deadline) checks = 0;
      deadline = rollbackAt;
      if (left() <= 0 && el.dataset.state === 'rolled-back') { recheck(); return; } // the server has not caught up yet
      el.hidden = false;
      el.dataset.state = 'running';
      keepBtn.hidden = false;
      stopTimer();
      tick();
      if (el.dataset.state === 'running') timer = setInterval(tick, 1000);
    },
    /** This page started a trial that ends `timeout` seconds from now: measure the clocks' difference. */
    started(rollbackAt, localDeadline) {
      const d = rollbackAt - localDeadline;
      skew = Math.abs(d) > 2 ? d : 0;
    },
    hide() { stopTimer(); el.hidden = true; el.dataset.state = 'none'; },
  };
}
