// The Ticketing client's few browser-side behaviours. No framework and no build step: the pages
// are rendered on the server and read fine without this file; it adds what needs the browser.
//
//  - form[data-api]    submits its fields as JSON to the API (the session cookie is set by the
//                      API's own response), then goes to data-redirect;
//  - button[data-api]  posts its data-body the same way (Purchase, Pay);
//  - input[data-money] formats a price to two decimals when it loses focus;
//  - [data-expires-at] counts down every second until the order expires.
//
// API errors are rendered exactly as the server renders them (views::error_list): the original's
// "Ooops...." alert with one line per message; fields named by an error are marked invalid.
(function () {
  'use strict';

  // Payments learns of an order from the `order:created` event, so paying for an order placed a
  // moment ago may find it not there yet (404). Paying is idempotent (the idempotency key is
  // derived from the order and the token), so asking again shortly is safe.
  const PAY_RETRY_DELAYS_MS = [250, 500, 1000, 2000];

  async function send(method, url, body) {
    for (const delay of url === '/api/payments' ? PAY_RETRY_DELAYS_MS : []) {
      try {
        return await sendOnce(method, url, body);
      } catch (errors) {
        if (!(errors && errors.notFound)) throw errors;
      }
      await new Promise(function (resolve) { setTimeout(resolve, delay); });
    }
    return sendOnce(method, url, body);
  }

  // Sends `body` as JSON; resolves with the parsed answer, rejects with the contract's error list.
  async function sendOnce(method, url, body) {
    let response;
    try {
      response = await fetch(url, {
        method: method,
        credentials: 'same-origin',
        headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
        body: JSON.stringify(body),
      });
    } catch (networkError) {
      throw [{ message: 'Could not reach the server. Check your connection and try again.' }];
    }
    let data = null;
    try {
      data = await response.json();
    } catch (notJson) {
      data = null;
    }
    if (response.ok) return data || {};
    if (data && Array.isArray(data.errors) && data.errors.length > 0) {
      const errors = data.errors;
      errors.notFound = response.status === 404;
      throw errors;
    }
    throw [{ message: 'Something went wrong' }];
  }

  function showErrors(slotId, errors, form) {
    const slot = document.getElementById(slotId);
    if (!slot) return;
    const alert = document.createElement('div');
    alert.className = 'alert alert-danger';
    alert.setAttribute('role', 'alert');
    const heading = document.createElement('h4');
    heading.textContent = 'Ooops....';
    const list = document.createElement('ul');
    list.className = 'my-0';
    errors.forEach(function (error) {
      const item = document.createElement('li');
      item.textContent = String(error && error.message ? error.message : error);
      if (error && error.field) item.dataset.field = error.field;
      list.appendChild(item);
      const input = form && error && error.field ? form.elements.namedItem(error.field) : null;
      if (input && input.setAttribute) {
        input.setAttribute('aria-invalid', 'true');
        input.setAttribute('aria-describedby', slotId);
      }
    });
    alert.appendChild(heading);
    alert.appendChild(list);
    slot.replaceChildren(alert);
  }

  function clearErrors(slotId, form) {
    const slot = document.getElementById(slotId);
    if (slot) slot.replaceChildren();
    if (form) {
      form.querySelectorAll('[aria-invalid]').forEach(function (input) {
        input.removeAttribute('aria-invalid');
        input.removeAttribute('aria-describedby');
      });
    }
  }

  // data-redirect may name the created resource: "/orders/{id}".
  function go(template, data) {
    const id = data && data.id != null ? encodeURIComponent(String(data.id)) : '';
    window.location.assign(template.replace('{id}', id));
  }

  // Runs one API call for `trigger` (a form or a button), guarding against double submits.
  async function run(trigger, button, body, form) {
    if (trigger.dataset.busy) return;
    trigger.dataset.busy = '1';
    if (button) button.disabled = true;
    clearErrors(trigger.dataset.errors, form);
    try {
      const data = await send(trigger.dataset.method || 'POST', trigger.dataset.api, body);
      go(trigger.dataset.redirect || '/', data);
    } catch (errors) {
      showErrors(trigger.dataset.errors, Array.isArray(errors) ? errors : [{ message: String(errors) }], form);
      delete trigger.dataset.busy;
      if (button) button.disabled = false;
    }
  }

  function formBody(form) {
    const body = {};
    new FormData(form).forEach(function (value, name) {
      body[name] = value;
    });
    return body;
  }

  document.querySelectorAll('form[data-api]').forEach(function (form) {
    form.addEventListener('submit', function (event) {
      event.preventDefault();
      run(form, form.querySelector('button[type="submit"]'), formBody(form), form);
    });
  });

  document.querySelectorAll('button[data-api]').forEach(function (button) {
    button.addEventListener('click', function () {
      const body = JSON.parse(button.dataset.body || '{}');
      if (button.dataset.stripeKey) {
        stripeCheckout(button, body);
      } else {
        run(button, button, body, null);
      }
    });
  });

  // With a publishable key, Pay opens Stripe's checkout and pays with the token it returns.
  function stripeCheckout(button, body) {
    function open() {
      const handler = window.StripeCheckout.configure({
        key: button.dataset.stripeKey,
        email: button.dataset.email,
        token: function (token) {
          body.token = token.id;
          run(button, button, body, null);
        },
      });
      handler.open({ amount: Number(button.dataset.amount), currency: 'usd' });
    }
    if (window.StripeCheckout) return open();
    const script = document.createElement('script');
    script.src = 'https://checkout.stripe.com/checkout.js';
    script.onload = open;
    script.onerror = function () {
      showErrors(button.dataset.errors, [{ message: 'Could not load the payment form. Try again.' }], null);
    };
    document.head.appendChild(script);
  }

  // Coming back with the Back button may restore this page from the cache as it was left:
  // mid-request, with its button disabled. Make it usable again.
  window.addEventListener('pageshow', function (event) {
    if (!event.persisted) return;
    document.querySelectorAll('[data-busy]').forEach(function (trigger) {
      delete trigger.dataset.busy;
      const button = trigger.matches('button') ? trigger : trigger.querySelector('button[type="submit"]');
      if (button) button.disabled = false;
    });
  });

  document.querySelectorAll('input[data-money]').forEach(function (input) {
    input.addEventListener('blur', function () {
      const value = parseFloat(input.value);
      if (!Number.isNaN(value)) input.value = value.toFixed(2);
    });
  });

  document.querySelectorAll('[data-expires-at]').forEach(function (timer) {
    const expiresAt = new Date(timer.dataset.expiresAt).getTime();
    // The server's clock decides expiry; correct for a browser clock that is off.
    const skew = Number(timer.dataset.now) - Date.now() || 0;
    let interval = null;
    function tick() {
      const secondsLeft = Math.round((expiresAt - (Date.now() + skew)) / 1000);
      if (secondsLeft < 0) {
        timer.textContent = 'Order Expired';
        timer.removeAttribute('role');
        const hide = document.getElementById(timer.dataset.hideWhenExpired);
        if (hide) hide.remove();
        if (interval) clearInterval(interval);
        return;
      }
      timer.textContent = secondsLeft + ' seconds until order expires';
    }
    tick();
    interval = setInterval(tick, 1000);
  });
})();
