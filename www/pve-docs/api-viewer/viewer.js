// A small reader of apidoc.js (the global apiSchema): a filterable path list and each path's methods
// with their parameters, permissions and return shape.
const flat = [];
(function walk(nodes) {
  for (const node of nodes) {
    if (node.info) flat.push(node);
    if (node.children) walk(node.children);
  }
})(typeof apiSchema === 'undefined' ? [] : apiSchema); // a const of the classic script apidoc.js, not a property of globalThis

const list = document.getElementById('paths');
const detail = document.getElementById('detail');
const filter = document.getElementById('filter');

function el(tag, text, attrs = {}) {
  const e = document.createElement(tag);
  if (text !== undefined) e.textContent = text;
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  return e;
}

function show(node) {
  for (const a of list.querySelectorAll('a[aria-current]')) a.removeAttribute('aria-current');
  list.querySelector(`a[data-path="${CSS.escape(node.path)}"]`)?.setAttribute('aria-current', 'true');
  detail.replaceChildren(el('h2', node.path));
  for (const [method, info] of Object.entries(node.info)) {
    detail.append(el('h3', `${method} (${info.name})`), el('p', info.description ?? ''));
    const props = info.parameters?.properties ?? {};
    if (Object.keys(props).length) {
      const table = el('table');
      table.append(Object.assign(el('tr'), { innerHTML: '<th>parameter</th><th>type</th><th>optional</th>' }));
      for (const [name, p] of Object.entries(props).sort()) {
        const tr = el('tr');
        tr.append(el('td', name), el('td', p.typetext ?? p.format ?? p.type ?? ''), el('td', p.optional ? 'yes' : ''));
        table.append(tr);
      }
      detail.append(table);
    }
    detail.append(el('h4', 'permissions'), el('pre', JSON.stringify(info.permissions)), el('h4', 'returns'), el('pre', JSON.stringify(info.returns, null, 2)));
  }
}

function render() {
  const words = filter.value.toLowerCase();
  list.replaceChildren(...flat.filter((n) => n.path.toLowerCase().includes(words)).map((node) => {
    const a = el('a', node.path, { href: `#${node.path}`, 'data-path': node.path });
    a.addEventListener('click', () => show(node));
    return a;
  }));
}

filter.addEventListener('input', render);
render();
const wanted = flat.find((n) => n.path === decodeURIComponent(location.hash.slice(1)));
if (wanted) show(wanted);
