#!/usr/bin/env python3
"""A simulated user of a recommender, as a posttrain external environment (JSONL on stdin/stdout).

The policy is the recommender: each turn it recommends one item of a nine-item catalogue by its
number; the simulated user accepts it or not, from hidden preferences, and says so. The episode's
reward is the business metric: the number of accepted recommendations (a repeated item is never
accepted twice). Users are the records (field `user`): their tastes come from the user id, so the
samples of one prompt meet the same user; across users, tastes lean towards some items (what a
recommender can learn). The `seed` of each episode drives the user's small chance of accepting an
item they do not care for, so a resumed run replays the same episodes.

Protocol (one JSON object per line each way; posttrain's environment `command`):
  {"type": "reset", "episode": ID, "seed": S, "record": {...}} -> {"episode": ID, "messages": [...]}
  {"type": "step", "episode": ID, "turn": K, "text": ..., "text_raw": ...}
      -> {"episode": ID, "messages": [...], "reward": R, "done": B}
  {"type": "close", "episode": ID}                             (no reply)
Only the standard library: it runs wherever python3 does.
"""
import json
import random
import re
import sys

CATALOGUE = ["a sci-fi film", "a cookbook", "a jazz album", "a thriller", "a board game", "a hiking guide",
             "a comedy series", "a history podcast", "a puzzle book"]
# Across users, tastes lean towards these items (population popularity), the rest less often.
POPULARITY = [0.2, 0.7, 0.1, 0.8, 0.15, 0.6, 0.1, 0.2, 0.1]
TURNS = 3
episodes = {}


def tastes(user):
    rng = random.Random(f"user-{user}")
    return {i + 1 for i, p in enumerate(POPULARITY) if rng.random() < p}


def reset(msg):
    record = msg["record"]
    if "user" not in record:
        return {"episode": msg["episode"], "error": "the record has no 'user' field"}
    episodes[msg["episode"]] = {"likes": tastes(record["user"]), "shown": set(),
                                "rng": random.Random(msg["seed"])}
    listing = "; ".join(f"{i + 1} {name}" for i, name in enumerate(CATALOGUE))
    text = (f"Hi, I am user {record['user']}. Recommend me something: answer with one item number. "
            f"Items: {listing}.")
    return {"episode": msg["episode"], "messages": [{"role": "user", "content": text}]}


def step(msg):
    ep = episodes.get(msg["episode"])
    if ep is None:
        return {"episode": msg["episode"], "error": "unknown episode"}
    last = msg["turn"] + 1 >= TURNS
    digits = re.findall(r"[1-9]", msg["text"])
    if not digits:
        say, reward = "Please recommend one item by its number.", 0.0
    else:
        item = int(digits[0])
        liked = item in ep["likes"] or ep["rng"].random() < 0.05
        if item in ep["shown"]:
            say, reward = "You already showed me that one.", 0.0
        elif liked:
            say, reward = "I'll take it! Anything else?", 1.0
        else:
            say, reward = "Not for me. Something else?", 0.0
        ep["shown"].add(item)
    return {"episode": msg["episode"], "messages": [] if last else [{"role": "user", "content": say}],
            "reward": reward, "done": last}


def main():
    for line in sys.stdin:
        msg = json.loads(line)
        kind = msg.get("type")
        if kind == "close":
            episodes.pop(msg["episode"], None)
            continue
        reply = reset(msg) if kind == "reset" else step(msg) if kind == "step" else \
            {"episode": msg.get("episode"), "error": f"unknown message type {kind!r}"}
        print(json.dumps(reply), flush=True)


if __name__ == "__main__":
    main()
