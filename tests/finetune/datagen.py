"""Generated chat datasets for tests and the benchmark: deterministic for a seed, shaped
like real fine-tuning data (a few repeated system prompts, short questions, longer
answers, some multi-turn and named messages), with planted exact and near duplicates."""

from __future__ import annotations

import random
from dataclasses import replace

from desktop.finetune.examples import Message, TrainingExample

WORDS = str.split(
    """the a to of and in is it you that for on with as be this are can your not or at by from
    sync hub agent relay folder file files device devices account plan invoice billing user
    users admin password key recovery backup restore error code port network router setting
    settings update version release schedule drive drives storage quota limit team office
    share link permission access token session browser desktop client server install setup
    pairing certificate warning light ring blue white green red firmware support ticket reply
    please thanks hello hi there when why how what where which does do did will would should
    could must may might always never usually often sometimes again still already yet only
    minutes hours days weeks months year first second third last next new old large small
    fast slow broken missing deleted moved renamed copied conflict conflicts copy copies
    price cost euro refund warranty replacement order shipping delivery address contact
    email phone chat call meeting weekend morning evening today tomorrow yesterday office"""
)

SYSTEM_PROMPTS = tuple(
    " ".join(random.Random(seed).choices(WORDS, k=size)).capitalize() + "."
    for seed, size in ((1, 220), (2, 160), (3, 90), (4, 240), (5, 30))
)


def _sentence(rng: random.Random, low: int, high: int) -> str:
    return " ".join(rng.choices(WORDS, k=rng.randint(low, high))).capitalize() + "."


def generated_examples(
    n: int, *, seed: int = 7, duplicate_every: int = 97, near_every: int = 89
) -> list[TrainingExample]:
    """``n`` valid examples; every ``duplicate_every``-th repeats an earlier one exactly and
    every ``near_every``-th changes one word of an earlier one (0 turns either off)."""
    rng = random.Random(seed)
    examples: list[TrainingExample] = []
    for index in range(n):
        if duplicate_every and index and index % duplicate_every == 0:
            examples.append(examples[rng.randrange(index)])
            continue
        if near_every and index and index % near_every == 0:
            source = examples[rng.randrange(index)]
            last = source.messages[-1]
            words = last.text.split()
            words[rng.randrange(len(words))] = "changed"
            messages = (*source.messages[:-1], replace(last, content=" ".join(words)))
            examples.append(replace(source, messages=messages))
            continue
        messages = [Message("system", rng.choice(SYSTEM_PROMPTS))]
        turns = 2 if rng.random() < 0.1 else 1
        for turn in range(turns):
            name = "customer" if rng.random() < 0.05 else None
            messages.append(Message("user", _sentence(rng, 8, 40), name=name))
            weight = 0 if turns == 2 and turn == 0 else None
            answer = " ".join(_sentence(rng, 10, 30) for _ in range(rng.randint(1, 4)))
            messages.append(Message("assistant", answer, weight=weight))
        examples.append(TrainingExample(tuple(messages)))
    return examples
