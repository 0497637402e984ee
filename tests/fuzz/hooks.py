"""Schemathesis hooks of the fuzz suite (tests/suite/http/fuzz.rs).

The fuzzer learns identifiers from the answers it reads (its own account from the profile, its
session from the session list, the seeded roles and permissions from the catalog) and reuses them
in the cases it generates. Let loose on those, it disables or deletes its own account, ends its
own session, or strips the catalog its authority comes from, and every later case is answered 401
or 403 without reaching the code under test. So a case that would change one of the identifiers
in FUZZ_PROTECTED_IDS (GET and HEAD read, and stay) is sent to a fresh random identifier instead:
the same operation, on a resource that does not exist.
"""

import os
import uuid

import schemathesis

PROTECTED = {
    value.strip().lower()
    for value in os.environ.get("FUZZ_PROTECTED_IDS", "").split(",")
    if value.strip()
}


@schemathesis.hook
def before_call(context, case, **kwargs):
    if case.method.upper() in ("GET", "HEAD") or not case.path_parameters:
        return
    for name, value in list(case.path_parameters.items()):
        if str(value).strip().lower() in PROTECTED:
            case.path_parameters[name] = str(uuid.uuid4())
