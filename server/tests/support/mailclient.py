#!/usr/bin/env python3
"""A program that only knows a user name and a password, as the gateway tests use it: Python's
own smtplib and imaplib against Mailbridge's SMTP relay and IMAP proxy. Prints one JSON object.

    mailclient.py send HOST PORT starttls|ssl CA USER PASSWORD FROM TO SUBJECT
    mailclient.py read HOST PORT starttls|ssl CA USER PASSWORD SUBJECT
    mailclient.py idle HOST PORT starttls|ssl CA USER PASSWORD INJECT_PORT RCPT
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


if __name__ == "__main__":
    action, args = sys.argv[1], sys.argv[2:]
    result = {"send": send, "read": read, "idle": idle}[action](*args)
    print(json.dumps(result))
