"""A real SMTP server for Herald's email tests, built on aiosmtpd (Debian: python3-aiosmtpd).

Listens on 127.0.0.1 at a free port and prints "PORT <n>" once ready. Each accepted message is
written to --maildir as NNNN.eml (raw) and NNNN.json (envelope plus headers and text parts decoded by
Python's email package, so the test reads what a mail client would show). Exits when stdin closes,
so no server outlives the test process.

Throttling like Amazon SES:  --throttle-first N answers the first N messages at DATA with
"454 Throttling failure: Maximum sending rate exceeded."; --throttle-rcpt REGEX answers matching
recipients that way at RCPT. --reject-rcpt REGEX answers "550 5.1.1 mailbox unavailable".
--auth USER:PASSWORD requires AUTH (535 on bad credentials). --tlscert/--tlskey offer and require
STARTTLS.
"""
import argparse
import asyncio
import json
import os
import re
import ssl
import sys
from email import message_from_bytes, policy

from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword

THROTTLED = "454 Throttling failure: Maximum sending rate exceeded."


class ThrottleHandler:
    def __init__(self, maildir, throttle_first=0, throttle_rcpt=None, reject_rcpt=None):
        self.maildir = maildir
        self.throttle_first = throttle_first
        self.throttle_rcpt = re.compile(throttle_rcpt) if throttle_rcpt else None
        self.reject_rcpt = re.compile(reject_rcpt) if reject_rcpt else None
        self.data_seen = 0
        self.saved = 0

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if self.reject_rcpt and self.reject_rcpt.search(address):
            return "550 5.1.1 <%s>: Recipient address rejected: mailbox unavailable" % address
        if self.throttle_rcpt and self.throttle_rcpt.search(address):
            return THROTTLED
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.data_seen += 1
        if self.data_seen <= self.throttle_first:
            return THROTTLED
        self.saved += 1
        raw = envelope.original_content or envelope.content
        msg = message_from_bytes(raw, policy=policy.default)
        parts = []
        for part in msg.walk():
            if part.is_multipart():
                continue
            parts.append({
                "content_type": part.get_content_type(),
                "charset": part.get_content_charset(),
                "transfer_encoding": part.get("Content-Transfer-Encoding"),
                "content": part.get_content(),
            })
        record = {
            "mail_from": envelope.mail_from,
            "rcpt_tos": envelope.rcpt_tos,
            "tls": session.ssl is not None,
            "authenticated": bool(session.authenticated),
            "subject": str(msg["subject"]),
            "content_type": msg.get_content_type(),
            "headers": {k: str(v) for k, v in msg.items()},
            "parts": parts,
        }
        name = os.path.join(self.maildir, "%04d" % self.saved)
        with open(name + ".eml", "wb") as f:
            f.write(raw)
        with open(name + ".json.tmp", "w", encoding="utf-8") as f:
            json.dump(record, f, ensure_ascii=False)
        os.replace(name + ".json.tmp", name + ".json")  # the reader never sees half a file
        return "250 Message accepted for delivery"


class CaseBlindAuthSMTP(SMTP):
    """SASL mechanism names are case-insensitive (RFC 4954), and System.Net.Mail sends "AUTH login";
    aiosmtpd 1.4 only knows "LOGIN", so uppercase the mechanism before it looks it up."""

    async def smtp_AUTH(self, arg):
        if arg:
            mechanism, _, rest = arg.partition(" ")
            arg = mechanism.upper() + (" " + rest if rest else "")
        return await super().smtp_AUTH(arg)


def authenticator_for(user, password):
    def check(server, session, envelope, mechanism, auth_data):
        ok = isinstance(auth_data, LoginPassword) and auth_data.login == user.encode() and auth_data.password == password.encode()
        return AuthResult(success=ok, handled=False)  # handled=False: aiosmtpd answers 535 itself
    return check


async def main():
    p = argparse.ArgumentParser()
    p.add_argument("--maildir", required=True)
    p.add_argument("--throttle-first", type=int, default=0)
    p.add_argument("--throttle-rcpt")
    p.add_argument("--reject-rcpt")
    p.add_argument("--auth")
    p.add_argument("--tlscert")
    p.add_argument("--tlskey")
    a = p.parse_args()
    if os.environ.get("HERALD_SMTPD_DEBUG"):
        import logging
        logging.basicConfig(level=logging.DEBUG, stream=sys.stderr)

    os.makedirs(a.maildir, exist_ok=True)
    handler = ThrottleHandler(a.maildir, a.throttle_first, a.throttle_rcpt, a.reject_rcpt)
    tls = None
    if a.tlscert:
        tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        tls.load_cert_chain(a.tlscert, a.tlskey)
    auth = authenticator_for(*a.auth.split(":", 1)) if a.auth else None

    def factory():
        return CaseBlindAuthSMTP(handler, hostname="herald-test-smtp", tls_context=tls, require_starttls=tls is not None,
                               authenticator=auth, auth_required=auth is not None, auth_require_tls=tls is not None)

    loop = asyncio.get_running_loop()
    server = await loop.create_server(factory, host="127.0.0.1", port=0)
    print("PORT %d" % server.sockets[0].getsockname()[1], flush=True)
    await loop.run_in_executor(None, sys.stdin.read)
    server.close()


if __name__ == "__main__":
    asyncio.run(main())
