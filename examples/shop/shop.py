#!/usr/bin/env python3
"""A shop's price list as an external tool of the `tools` environment (examples/shop/recipe.yaml).

One process serves every call (JSON lines, see lib/env/recipe_tools.cpp):
  -> {"type": "call", "tool": "price", "arguments": {"item": "kiwi"}, "episode": 3}
  <- {"content": "7"}   or   {"error": "..."}  (the model sees the error as the tool's answer)
  -> {"type": "close", "episode": 3}   (no reply)
The prices are fixed by the item's name (seeded), so the model can only know them by calling the tool.
"""
import json
import random
import sys

ITEMS = ["apple", "pear", "kiwi", "lemon", "mango", "melon", "peach", "plum", "grape", "cherry", "banana",
         "orange", "carrot", "onion", "potato", "tomato", "pepper", "garlic", "ginger", "radish", "bread", "butter",
         "cheese", "honey", "rice", "flour", "sugar", "salt", "coffee", "tea", "milk", "juice", "soap", "candle",
         "towel", "brush", "spoon", "fork", "knife", "plate", "cup", "bowl", "basket", "hammer", "nail", "rope",
         "lamp", "clock"]
PRICES = {item: random.Random("price:" + item).randint(2, 99) for item in ITEMS}


def answer(msg):
    if msg.get("tool") != "price":
        return {"error": f"this shop has no tool '{msg.get('tool')}'"}
    item = str(msg.get("arguments", {}).get("item", "")).strip().lower()
    if item not in PRICES:
        return {"error": f"no item '{item}' in the shop"}
    return {"content": str(PRICES[item])}


if __name__ == "__main__":
    for line in sys.stdin:
        msg = json.loads(line)
        if msg.get("type") == "call":
            print(json.dumps(answer(msg)), flush=True)
