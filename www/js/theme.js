// Light/dark theme. With no stored choice we follow prefers-color-scheme
// (pure CSS); an explicit choice is stored in localStorage and applied as
// <html data-theme="…"> (early, by theme-init.js, to avoid a flash).

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
  if (choice) document.documentElement.dataset.theme = choice;
  else delete document.documentElement.dataset.theme;
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
