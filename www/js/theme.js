// Light/dark theme, applied as <html data-theme="light|dark"> (first by
// theme-init.js before paint). Until the user picks one with the toggle we
// follow prefers-color-scheme, live; the choice is kept in localStorage.

const KEY = 'corral.theme';
const media = window.matchMedia('(prefers-color-scheme: dark)');

function load() {
  try {
    const v = localStorage.getItem(KEY);
    return v === 'light' || v === 'dark' ? v : null;
  } catch {
    return null; // storage disabled
  }
}

let choice = load(); // 'light' | 'dark' | null (= follow the system)

const systemTheme = () => (media.matches ? 'dark' : 'light');

export function currentTheme() {
  return choice || systemTheme();
}

function apply(button) {
  document.documentElement.dataset.theme = currentTheme();
  const next = currentTheme() === 'dark' ? 'light' : 'dark';
  button.setAttribute('aria-label', `Switch to ${next} theme`);
  button.title = `Switch to ${next} theme`;
  button.querySelector('use')?.setAttribute('href', next === 'dark' ? '#i-moon' : '#i-sun');
}

export function initThemeToggle(button) {
  apply(button);
  button.addEventListener('click', () => {
    const next = currentTheme() === 'dark' ? 'light' : 'dark';
    choice = next;
    try {
      localStorage.setItem(KEY, choice);
    } catch {
      // storage disabled: the choice lasts for this page view only
    }
    apply(button);
  });
  media.addEventListener('change', () => apply(button));
}
