/* dropzone.js: files by drag and drop or the file picker. */
import { clear, h, nextId } from './dom.js';
import { fmtBytes } from './format.js';

export function dropZone(o) {
  const id = nextId('files');
  const input = h('input', { type: 'file', id, multiple: true, class: 'file-input', name: 'files',
    accept: '.zip,.pem,.crt,.cer,.der,.p7b,.p7c,.pfx,.p12,.txt,.b64,application/zip,application/x-pkcs12,application/pkcs7-mime,application/x-x509-ca-cert' });
  const list = h('ul', { class: 'file-list', 'aria-live': 'polite' });
  let files = [];
  const zone = h('div', { class: 'dropzone' },
    h('label', { for: id, class: 'dz-label' },
      h('span', { class: 'dz-icon', 'aria-hidden': 'true' }, '⇪'),
      h('span', { class: 'dz-main' }, o.label || 'Drop the CA\'s files here'),
      h('span', { class: 'dz-sub' }, o.sub || 'zip, PEM, CRT/CER, DER, p7b or PFX; or press Enter to choose')),
    input, list);
  function show() {
    clear(list);
    files.forEach((f, i) => {
      const rm = h('button', { type: 'button', class: 'btn small ghost', 'aria-label': 'Remove ' + f.name }, 'Remove');
      rm.addEventListener('click', () => {
        files.splice(i, 1);
        show();
        if (o.onChange) o.onChange(files);
      });
      list.appendChild(h('li', null, h('span', { class: 'file-name' }, f.name), h('span', { class: 'small muted' }, fmtBytes(f.size)), rm));
    });
    zone.classList.toggle('has-files', files.length > 0);
    if (o.onChange) o.onChange(files);
  }
  function take(fl) {
    const add = Array.from(fl || []);
    if (!add.length) return;
    files = o.single ? [add[0]] : files.concat(add);
    show();
  }
  input.addEventListener('change', () => {
    take(input.files);
    input.value = '';
  });
  zone.addEventListener('dragover', (ev) => {
    ev.preventDefault();
    if (ev.dataTransfer) ev.dataTransfer.dropEffect = 'copy';
    zone.classList.add('over');
  });
  zone.addEventListener('dragleave', (ev) => {
    if (!zone.contains(ev.relatedTarget)) zone.classList.remove('over');
  });
  zone.addEventListener('drop', (ev) => {
    ev.preventDefault();
    zone.classList.remove('over');
    if (ev.dataTransfer) take(ev.dataTransfer.files);
  });
  return {
    zone, input,
    files: () => files.slice(),
    reset: () => {
      files = [];
      show();
    },
  };
}

export function isPfxName(name) {
  return /\.(pfx|p12)$/i.test(name);
}
