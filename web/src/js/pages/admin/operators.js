// The administration's operator accounts: the list (edit, reset the
// password), the form to create one or edit the one chosen (its role,
// whether it is active, its offices), and the password reset.
import { $, clear, focus, h } from '../../lib/dom.js';
import { t } from '../../lib/i18n.js';
import { A, actions, button, call, data, entityForm, message, officeName, reload, row, stateText, table, taken } from './common.js';

let editing = null; // the id of the account being edited
let resetting = null; // the id of the account whose password is being reset

const roles = () => [
  ['operator', t('operator.role.operator')],
  ['administrator', t('operator.role.administrator')],
];
const password = (name, label) => ({ name, label, type: 'password', required: true, hint: 'admin.operators.password_hint', autocomplete: 'new-password' });
const fields = (editing) =>
  editing
    ? [
        { name: 'display_name', label: 'admin.operators.name', required: true },
        { name: 'role', label: 'admin.operators.role', type: 'select', options: roles() },
        { name: 'active', label: 'admin.operators.active', type: 'checkbox' },
      ]
    : [
        { name: 'email', label: 'admin.operators.email', type: 'email', required: true },
        { name: 'display_name', label: 'admin.operators.name', required: true },
        { name: 'role', label: 'admin.operators.role', type: 'select', options: roles() },
        password('password', 'admin.operators.password'),
      ];

// officeChecks: a box per office, the ones the account works for ticked.
function officeChecks(chosen) {
  return h(
    'fieldset',
    { class: 'field', id: 'operator-offices', 'data-field': 'offices', 'aria-describedby': 'operator-offices-error' },
    h('legend', { class: 'field-label', text: t('admin.operators.offices') }),
    h(
      'div',
      { class: 'admin-checks' },
      data.offices.map((o) =>
        h(
          'div',
          { class: 'form-check' },
          h('input', { class: 'form-check-input', type: 'checkbox', id: `operator-offices-${o.id}`, value: o.id, checked: chosen.includes(o.id) }),
          h('label', { class: 'form-check-label', for: `operator-offices-${o.id}`, text: o.name }),
        ),
      ),
    ),
    h('div', { class: 'invalid-feedback', id: 'operator-offices-error' }),
  );
}

function choose(which, id, target) {
  editing = which === 'edit' ? id : null;
  resetting = which === 'reset' ? id : null;
  render();
  focus($(target));
}

export function render() {
  const rows = data.operators.map((o) =>
    row(
      `operator-row-${o.id}`,
      o.display_name,
      o.email,
      t(`operator.role.${o.role}`),
      o.role === 'administrator' ? t('admin.operators.every_office') : (o.offices || []).map(officeName).join(', '),
      stateText(o.active),
      actions(
        button(`operator-edit-${o.id}`, t('common.edit'), t('admin.edit_label', { name: o.display_name }), () => choose('edit', o.id, '#operator-form-title')),
        button(`operator-reset-${o.id}`, t('admin.operators.reset'), t('admin.operators.reset_label', { name: o.display_name }), () => choose('reset', o.id, '#reset-form-title'), 'btn-outline-secondary'),
      ),
    ),
  );
  clear($('#operators-list')).append(
    table('operators-table', 'admin.operators.caption', ['admin.operators.name', 'admin.operators.email', 'admin.operators.role', 'admin.operators.offices', 'admin.state', 'admin.actions'], rows),
  );
  const o = editing ? data.operators.find((x) => x.id === editing) : null;
  clear($('#operator-form-box')).append(
    entityForm({
      prefix: 'operator',
      title: o ? t('admin.operators.edit_title', { name: o.display_name }) : t('admin.operators.create_title'),
      fields: fields(!!o),
      values: o || { role: 'operator' },
      submit: o ? t('admin.save') : t('admin.operators.create'),
      extra: officeChecks(o?.offices || []),
      onCancel: o ? () => choose('edit', null, '#operator-form-title') : null,
      onSubmit: async (body) => {
        body.offices = data.offices.filter((x) => $(`#operator-offices-${x.id}`)?.checked).map((x) => x.id);
        if (o) await call('PATCH', `${A}/operators/${encodeURIComponent(o.id)}`, body);
        else await call('POST', `${A}/operators`, body);
        await reload('operators');
        editing = null;
        render();
        message(t(o ? 'admin.operators.saved' : 'admin.operators.created', { name: body.display_name }));
      },
      texts: { unprocessable: 'admin.operators.self' },
      onError: (err) => !o && err?.code === 'conflict' && taken($('#operator-email'), 'admin.operators.email_taken'),
    }),
  );
  const r = resetting ? data.operators.find((x) => x.id === resetting) : null;
  const box = clear($('#reset-box'));
  if (!r) return;
  box.append(
    entityForm({
      prefix: 'reset',
      title: t('admin.operators.reset_title', { name: r.display_name }),
      fields: [password('password', 'admin.operators.new_password')],
      submit: t('admin.operators.reset_submit'),
      onCancel: () => choose('reset', null, `#operator-reset-${r.id}`),
      onSubmit: async (body) => {
        await call('POST', `${A}/operators/${encodeURIComponent(r.id)}/password`, body);
        resetting = null;
        render();
        message(t('admin.operators.reset_done', { name: r.display_name }));
      },
    }),
  );
}
