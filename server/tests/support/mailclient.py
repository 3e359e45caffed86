#!/usr/bin/env python3
"""A program that only knows a user name and a password, as the gateway tests use it: Python's
own smtplib and imaplib against Mailbridge's SMTP relay and IMAP proxy. Prints one JSON object.

    mailclient.py send HOST PORT starttls|ssl CA USER PASSWORD FROM TO SUBJECT
    mailclient.py read HOST PORT starttls|ssl CA USER PASSWORD SUBJECT
    mailclient.py idle HOST PORT starttls|ssl CA USER PASSWORD INJECT_PORT RCPT

and for the benchmark (`server/examples/gateway_bench.rs`), SECRET being an app password
(AUTH=plain) or an access token (AUTH=xoauth2):

    mailclient.py smtp-bench HOST PORT MODE CA USER SECRET AUTH MESSAGES CONCURRENCY
    mailclient.py fetch-bench HOST PORT MODE CA USER SECRET AUTH ROUNDS
    mailclient.py hold HOST PORT MODE CA USER SECRET AUTH COUNT   (until stdin closes)
"""
import imaplib
import json
import smtplib
import ssl
import sys
import time
from email.message import EmailMessage


def context(ca):
    ctx = ssl.create_default_context(cafile=ca)
    return ctx


def smtp_connect(host, port, mode, ca):
    if mode == "plain":
        return smtplib.SMTP(host, port, timeout=30)
    if mode == "ssl":
        return smtplib.SMTP_SSL(host, port, context=context(ca), timeout=30)
    s = smtplib.SMTP(host, port, timeout=30)
    s.starttls(context=context(ca))
    return s


def imap_connect(host, port, mode, ca):
    if mode == "ssl":
        return imaplib.IMAP4_SSL(host, port, ssl_context=context(ca), timeout=30)
    m = imaplib.IMAP4(host, port, timeout=30)
    m.starttls(ssl_context=context(ca))
    return m


def send(host, port, mode, ca, user, password, sender, to, subject):
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = to
    msg["Subject"] = subject
    msg.set_content("Sent by smtplib through the Mailbridge relay.\n.\nA line with a single dot above.\n")
    try:
        s = smtp_connect(host, int(port), mode, ca)
        s.login(user, password)
        s.send_message(msg, from_addr=sender, to_addrs=[to])
        s.quit()
        return {"ok": True}
    except smtplib.SMTPRecipientsRefused as e:
        code, text = list(e.recipients.values())[0]
        return {"code": code, "message": text.decode(errors="replace")}
    except smtplib.SMTPResponseException as e:
        return {"code": e.smtp_code, "message": e.smtp_error.decode(errors="replace")}
    except Exception as e:  # noqa: BLE001 - reported to the test as it is
        return {"error": f"{type(e).__name__}: {e}"}


def read(host, port, mode, ca, user, password, subject):
    try:
        m = imap_connect(host, int(port), mode, ca)
        m.login(user, password)
    except imaplib.IMAP4.error as e:
        return {"error": str(e)}
    typ, boxes = m.list()
    m.select("INBOX")
    typ, data = m.search(None, "SUBJECT", '"%s"' % subject)
    ids = data[0].split()
    body = ""
    if ids:
        typ, parts = m.fetch(ids[0], "(RFC822)")
        body = parts[0][1].decode(errors="replace")
    m.logout()
    return {
        "list": [b.decode(errors="replace") for b in boxes],
        "found": len(ids),
        "body": body,
    }


def idle(host, port, mode, ca, user, password, inject_port, rcpt):
    m = imap_connect(host, int(port), mode, ca)
    m.login(user, password)
    typ, data = m.select("INBOX")
    before = int(data[0])
    # imaplib (3.11) has no IDLE: the command by hand, on the same connection.
    tag = m._new_tag()
    m.send(tag + b" IDLE\r\n")
    cont = m.readline()
    if not cont.startswith(b"+"):
        return {"error": "IDLE refused: %r" % cont}
    msg = EmailMessage()
    msg["From"] = "someone@example.test"
    msg["To"] = rcpt
    msg["Subject"] = "While idling"
    msg.set_content("Delivered while the client idled through the proxy.\n")
    with smtplib.SMTP("127.0.0.1", int(inject_port), timeout=30) as s:
        s.send_message(msg)
    deadline = time.time() + 20
    exists = None
    while time.time() < deadline:
        line = m.readline()
        if line.endswith(b"EXISTS\r\n"):
            exists = int(line.split()[1])
            break
    m.send(b"DONE\r\n")
    done = m.readline()
    while not done.startswith(tag):
        done = m.readline()
    m.logout()
    return {"before": before, "exists": exists, "done": done.decode(errors="replace").strip()}


def xoauth2(user, token):
    return "user=%s\x01auth=Bearer %s\x01\x01" % (user, token)


def smtp_login(s, user, secret, auth):
    if auth == "none":
        return
    if auth == "xoauth2":
        s.ehlo()
        s.auth("XOAUTH2", lambda challenge=None: xoauth2(user, secret))
    else:
        s.login(user, secret)


def imap_login(m, user, secret, auth):
    if auth == "xoauth2":
        m.authenticate("XOAUTH2", lambda _: xoauth2(user, secret).encode())
    else:
        m.login(user, secret)


def smtp_bench(host, port, mode, ca, user, secret, auth, messages, concurrency):
    import threading
    messages, concurrency = int(messages), int(concurrency)
    body = "x" * 2000 + "\n"
    errors = []

    def worker(n):
        try:
            s = smtp_connect(host, int(port), mode, ca)
            smtp_login(s, user, secret, auth)
            for i in range(n):
                msg = EmailMessage()
                msg["From"] = user
                msg["To"] = user
                msg["Subject"] = "bench %d" % i
                msg.set_content(body)
                s.send_message(msg)
            s.quit()
        except Exception as e:  # noqa: BLE001
            errors.append(repr(e))

    per = messages // concurrency
    threads = [threading.Thread(target=worker, args=(per,)) for _ in range(concurrency)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    secs = time.perf_counter() - start
    return {"messages": per * concurrency, "secs": secs, "errors": errors[:3]}


def fetch_bench(host, port, mode, ca, user, secret, auth, rounds):
    m = imap_connect(host, int(port), mode, ca)
    imap_login(m, user, secret, auth)
    typ, data = m.select("INBOX", readonly=True)
    exists = int(data[0])
    times, octets = [], 0
    for _ in range(int(rounds)):
        start = time.perf_counter()
        typ, parts = m.fetch("1:%d" % exists, "(BODY.PEEK[])")
        times.append(time.perf_counter() - start)
        octets = sum(len(p[1]) for p in parts if isinstance(p, tuple))
    m.logout()
    return {"messages": exists, "octets": octets, "secs": times}


def hold(host, port, mode, ca, user, secret, auth, count):
    conns = []
    for _ in range(int(count)):
        m = imap_connect(host, int(port), mode, ca)
        imap_login(m, user, secret, auth)
        m.select("INBOX")
        conns.append(m)
    print(json.dumps({"held": len(conns)}), flush=True)
    sys.stdin.read()
    return None


if __name__ == "__main__":
    action, args = sys.argv[1], sys.argv[2:]
    result = {
        "send": send,
        "read": read,
        "idle": idle,
        "smtp-bench": smtp_bench,
        "fetch-bench": fetch_bench,
        "hold": hold,
    }[action](*args)
    if result is not None:
        print(json.dumps(result))
