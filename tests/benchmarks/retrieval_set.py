"""A small, self-contained retrieval set for comparing embedders.

Forty short help-centre passages about a fictional backup product ("Tidewell") and one
question per passage. The questions are paraphrases written to share as few content words
as possible with their answer, so they reward embedders that capture meaning rather than
vocabulary; several passages are near neighbours on purpose (privacy vs encryption vs
telemetry, refund vs cancellation, schedule vs retention) to make top-1 non-trivial.

Usage::

    from tests.benchmarks.retrieval_set import retrieval_set

    rs = retrieval_set()
    rs.passages[rs.answers[i]]  # the passage that answers rs.queries[i]

No third-party imports: reuse it from any benchmark or test.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RetrievalSet:
    """Passages, queries and, for each query, the index of the passage that answers it."""

    passages: tuple[str, ...]
    queries: tuple[str, ...]
    answers: tuple[int, ...]

    def __post_init__(self) -> None:
        if len(self.queries) != len(self.answers):
            raise ValueError("one answer index per query")
        if any(not 0 <= a < len(self.passages) for a in self.answers):
            raise ValueError("answer index out of range")


# (passage, paraphrased question). Keep the pairs together so edits cannot misalign them.
_PAIRS: tuple[tuple[str, str], ...] = (
    (
        "To set up Tidewell on Windows, run the downloaded installer, accept the licence and "
        "choose a folder; the setup wizard creates a desktop shortcut when it finishes.",
        "How do I get the program onto my PC?",
    ),
    (
        "On macOS, drag the Tidewell icon into Applications, then open System Settings > "
        "Privacy & Security and allow the helper extension the first time it starts.",
        "What steps are needed to put the software on an Apple computer?",
    ),
    (
        "Linux users can add the signed apt repository and install the tidewell package, or "
        "unpack the portable tarball into their home directory.",
        "Is there a way to use it on Ubuntu or Debian?",
    ),
    (
        "Tidewell needs 4 GB of RAM, 500 MB of free disk space and a 64-bit processor; older "
        "32-bit machines are not supported.",
        "Will it work on my ancient notebook that has little memory?",
    ),
    (
        "To remove Tidewell, quit it from the tray, then use Add or Remove Programs; your "
        "backups on the external drive are left untouched.",
        "If I get rid of the app, do my saved copies disappear too?",
    ),
    (
        "The app checks for new versions once a day and installs them quietly at the next "
        "restart; administrators can turn this off with the auto_update setting.",
        "Can I stop it from upgrading itself without asking me?",
    ),
    (
        "There are three plans: Personal at $4 a month for one computer, Family at $9 for up "
        "to five, and Business, which is priced per seat.",
        "What will it cost for a household with several devices?",
    ),
    (
        "We accept Visa, Mastercard, American Express and PayPal; bank transfers are available "
        "only on annual Business invoices.",
        "Which cards or online wallets can I use to pay?",
    ),
    (
        "If you cancel within 30 days of your first charge, we return the full amount to the "
        "original card, usually within five working days.",
        "Can I get my money back if I change my mind after buying?",
    ),
    (
        "You can end your subscription at any time under Account > Billing; access continues "
        "until the end of the period you already paid for.",
        "How do I stop being charged every month?",
    ),
    (
        "Receipts are emailed after every charge and can also be downloaded as PDF from the "
        "Billing page, with your company's VAT number if you add one.",
        "Where do I find proof of purchase for my accountant?",
    ),
    (
        "Students and teachers get 50% off any plan after verifying a school email address.",
        "Is there a cheaper rate for people in education?",
    ),
    (
        "New accounts get 14 days of every feature without entering card details; when the "
        "period ends, the app switches to read-only mode until you pick a plan.",
        "What happens once my evaluation runs out?",
    ),
    (
        "Tidewell collects crash reports and anonymous usage counts only; file names and "
        "contents never leave your device unless you enable cloud copies.",
        "Does the company look at what is inside my documents?",
    ),
    (
        "Cloud copies are encrypted on your computer with AES-256 before upload, using a key "
        "derived from your passphrase that we never store.",
        "Is my stuff scrambled before it goes online?",
    ),
    (
        "Because we never hold your passphrase, we cannot recover it; keep the printed "
        "recovery sheet generated during setup in a safe place.",
        "I forgot the secret that unlocks my protected data; can support reset it for me?",
    ),
    (
        "You can ask for all personal data held about you to be erased by writing to "
        "privacy@tidewell.example; we confirm deletion within 30 days.",
        "How do I make you forget everything you know about me?",
    ),
    (
        "Customer data is stored in data centres in Frankfurt and Dublin and is never "
        "transferred outside the European Union.",
        "In which country are your servers located?",
    ),
    (
        "Anonymous usage statistics can be switched off under Preferences > Advanced > Help "
        "improve Tidewell.",
        "How can I stop the app from sending analytics?",
    ),
    (
        "Any folder can be shared read-only through a link that expires after seven days; "
        "links can be protected with a PIN.",
        "Can I give a colleague temporary access to some files?",
    ),
    (
        "By default a backup runs every hour while the computer is on; you can change the "
        "interval or pick specific times in Schedule.",
        "How often does it save copies of my work?",
    ),
    (
        "To bring back an earlier version of a file, right-click it in Explorer or Finder, "
        "choose Tidewell > History, and select the date you want.",
        "I overwrote a document by mistake; how do I get the old one?",
    ),
    (
        "Add paths to the Ignore list to skip them; temporary files, caches and the recycle "
        "bin are excluded automatically.",
        "Can I leave certain directories out?",
    ),
    (
        "Hourly versions are kept for 48 hours, daily versions for a month and weekly versions "
        "for as long as there is space on the destination.",
        "For how long do you hold on to previous revisions?",
    ),
    (
        "If the external disk does not appear, check that it is formatted as NTFS, exFAT or "
        "APFS and reconnect it directly rather than through a hub.",
        "My USB hard drive isn't showing up; what should I try?",
    ),
    (
        "The first run can take many hours because every file is copied; later runs only "
        "transfer changes and usually finish in minutes.",
        "Why is the initial job so slow?",
    ),
    (
        "Error E42 means the destination is full; free some space or lower the number of "
        "weekly versions kept.",
        "The program complains there is no room left on the target.",
    ),
    (
        "If the app closes immediately after launch, delete the cache folder in "
        "%APPDATA%\\Tidewell and start it again; your settings are kept.",
        "The program quits as soon as I open it.",
    ),
    (
        "When the same file is changed on two computers, both copies are kept and the newer "
        "one gets the suffix 'conflict' plus the device name.",
        "What if I edit a document on my laptop and my desktop at once?",
    ),
    (
        "Behind a corporate proxy, enter its address under Preferences > Network or let "
        "Tidewell read the system proxy settings.",
        "It can't reach the internet from my workplace.",
    ),
    (
        "On laptops, backups pause when the battery drops below 20% and resume once the "
        "charger is plugged in.",
        "Will it drain my notebook's power?",
    ),
    (
        "The iOS and Android apps let you browse and download your cloud copies, but they do "
        "not back up the phone itself.",
        "Can I protect the photos on my smartphone with it?",
    ),
    (
        "Two-step verification can be enabled under Account > Security using any "
        "authenticator app; recovery codes are shown once.",
        "How do I add an extra sign-in check with a code from my mobile?",
    ),
    (
        "To change the address you sign in with, open Account > Profile, enter the new one "
        "and confirm the link we send to it.",
        "I got a new mailbox; how do I update my login?",
    ),
    (
        "Our help desk answers chat messages from 8:00 to 18:00 CET on weekdays; Business "
        "customers also get phone support.",
        "When can I talk to a human?",
    ),
    (
        "Upload speed can be capped under Preferences > Network so that backups do not slow "
        "down video calls.",
        "It hogs my connection while I'm on Zoom; can I limit that?",
    ),
    (
        "A backup set can write to a local disk and to the cloud at the same time, so you "
        "always keep one copy off-site.",
        "Can I keep duplicates both at home and somewhere else?",
    ),
    (
        "If many files are suddenly rewritten or renamed, Tidewell pauses and asks before it "
        "replaces older versions, protecting you from ransomware.",
        "What happens if a virus locks up everything on my machine?",
    ),
    (
        "Business administrators can add seats, assign devices to staff and see the backup "
        "status of every computer from the web console.",
        "As a manager, how do I oversee my employees' machines?",
    ),
    (
        "To move to a new computer, install Tidewell there, sign in, and choose Restore "
        "everything from the last backup of the old machine.",
        "I bought a new PC; how do I transfer all my stuff over?",
    ),
)


def retrieval_set() -> RetrievalSet:
    """Return the 40-passage / 40-question set (deterministic, no I/O)."""
    passages = tuple(p for p, _ in _PAIRS)
    queries = tuple(q for _, q in _PAIRS)
    return RetrievalSet(passages=passages, queries=queries, answers=tuple(range(len(_PAIRS))))
