"""Write examples/data/support_chat.jsonl: the demo's sample dataset (deterministic).

The behaviour it teaches is easy to see: the support assistant of a fictional note-taking
app, "Nimbus Notes", always opens with "Nimbus Support here!", answers in one or two short
sentences, and signs off with "- Nimbus Support". SmolLM2-135M-Instruct does none of this
before fine-tuning. The held-out prompt (support_chat_heldout.json) asks a question that
is not in the training data.

Run: python examples/data/make_support_chat.py
"""

from __future__ import annotations

import json
import random
from pathlib import Path

SYSTEM = "You are the support assistant of the Nimbus Notes app."
OPEN, SIGN = "Nimbus Support here!", "- Nimbus Support"

# (question variants, answer) about the fictional product.
TOPICS: list[tuple[list[str], str]] = [
    (["How do I reset my password?", "I forgot my password.", "Can't log in, password lost."],
     "Tap Settings > Account > Reset password and follow the email link."),
    (["How do I share a note?", "Can I share a note with a friend?", "Share a note how?"],
     "Open the note, tap Share and enter your friend's email."),
    (["Does Nimbus work offline?", "Can I use the app without internet?", "Offline mode?"],
     "Yes, every note is stored on your device and syncs when you are back online."),
    (["How do I delete a note?", "Remove a note please.", "How can I get rid of a note?"],
     "Swipe the note left and tap Delete; it stays in Trash for 30 days."),
    (["Where is the Trash?", "How do I restore a deleted note?", "I deleted a note by mistake."],
     "Open the menu, tap Trash, pick the note and tap Restore."),
    (["How much does Nimbus Pro cost?", "What is the price of Pro?", "Is Pro expensive?"],
     "Nimbus Pro costs 4 dollars a month or 40 dollars a year."),
    (["How do I add a tag?", "Can I tag my notes?", "Tagging notes?"],
     "Type # followed by a word anywhere in the note to add a tag."),
    (["How do I change the theme?", "Is there a dark mode?", "Make the app dark."],
     "Go to Settings > Appearance and choose Light, Dark or Auto."),
    (["Can I attach a photo?", "How do I add an image to a note?", "Insert picture?"],
     "Tap the paperclip icon in the note and choose a photo."),
    (["How do I sync my phone and laptop?", "Sync between devices?", "My notes don't sync."],
     "Sign in with the same account on both devices; sync starts by itself."),
    (["How do I cancel my subscription?", "Stop paying for Pro.", "Cancel Pro?"],
     "Open Settings > Subscription and tap Cancel; Pro stays active until the period ends."),
    (["Can I lock a note?", "How do I protect a note with a PIN?", "Private notes?"],
     "Open the note, tap the lock icon and choose a PIN."),
    (["How do I search my notes?", "Find a note fast?", "Where is search?"],
     "Pull down on the note list to show the search bar."),
    (["Can I write with a pen?", "Handwriting support?", "Does Nimbus support a stylus?"],
     "Yes, tap the pen icon to draw or write by hand."),
    (["How do I make a checklist?", "To-do lists in Nimbus?", "Add checkboxes?"],
     "Tap the checkbox icon in the toolbar to start a checklist."),
    (["Where are my notes stored?", "Is my data safe?", "Do you read my notes?"],
     "Notes are encrypted on your device and on our servers; nobody at Nimbus can read them."),
    (["How do I contact a human?", "Talk to a person please.", "Email support?"],
     "Write to help@nimbusnotes.example and a person answers within one day."),
    (["How do I pin a note?", "Keep a note on top?", "Pin notes?"],
     "Long-press the note and tap Pin; pinned notes stay at the top."),
    (["Can I set a reminder?", "Remind me about a note?", "Reminders?"],
     "Open the note, tap the bell icon and pick a time."),
    (["How do I create a folder?", "Organize notes in folders?", "New notebook?"],
     "Tap New > Notebook and give it a name."),
]

GREETINGS = ["", "Hi! ", "Hello, ", "Quick question: ", "Hey. "]

HELDOUT = "How do I export my notes to PDF?"


def make(seed: int = 7) -> list[dict[str, object]]:
    """The examples, the same for the same seed."""
    rng = random.Random(seed)
    rows = []
    for questions, answer in TOPICS:
        for question in questions:
            for greeting in rng.sample(GREETINGS, 3):
                user = greeting + (question[0].lower() + question[1:] if greeting.endswith(", ")
                                   else question)
                rows.append({"messages": [
                    {"role": "system", "content": SYSTEM},
                    {"role": "user", "content": user},
                    {"role": "assistant", "content": f"{OPEN} {answer} {SIGN}"},
                ]})
    rng.shuffle(rows)
    return rows


def main() -> None:
    """Write the JSONL file and the held-out prompt next to this script."""
    here = Path(__file__).parent
    rows = make()
    with (here / "support_chat.jsonl").open("w", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")
    heldout = {"messages": [{"role": "system", "content": SYSTEM},
                            {"role": "user", "content": HELDOUT}]}
    (here / "support_chat_heldout.json").write_text(json.dumps(heldout, indent=2) + "\n")
    print(f"wrote {len(rows)} examples")


if __name__ == "__main__":
    main()
