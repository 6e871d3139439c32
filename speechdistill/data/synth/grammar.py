"""A voice-assistant command grammar: timers, alarms, reminders, calls, smart home, weather, music, lists.

Sentences are generated directly in spoken form (numbers, times and dates as words, via
``speechdistill.text``), so the text given to a TTS engine is exactly the transcript. All randomness comes
from the ``random.Random`` passed in, never from global state.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable

from ...text import number_to_words, ordinal_to_words
from . import lexicon as lx

MIN_WORDS = 2
MAX_WORDS = 15
_SLOT_RE = re.compile(r"\{(\w+)\}")

Slot = Callable[[random.Random], str]


def _pick(options: tuple[str, ...]) -> Slot:
    return lambda rng: rng.choice(options)


def _number(rng: random.Random, low: int = 1, high: int = 100) -> str:
    return number_to_words(rng.randint(low, high))


def _duration(rng: random.Random) -> str:
    kind = rng.random()
    if kind < 0.45:
        n = rng.choice((1, 2, 3, 4, 5, 6, 7, 8, 10, 12, 15, 20, 25, 30, 40, 45, 50, 90))
        return "one minute" if n == 1 else f"{number_to_words(n)} minutes"
    if kind < 0.6:
        n = rng.choice((10, 15, 20, 30, 40, 45, 60, 90))
        return f"{number_to_words(n)} seconds"
    if kind < 0.75:
        return rng.choice(("an hour", "half an hour", "a minute", "an hour and a half", "a quarter of an hour"))
    hours, minutes = rng.randint(1, 3), rng.choice((5, 10, 15, 20, 30, 45))
    head = "one hour" if hours == 1 else f"{number_to_words(hours)} hours"
    return f"{head} and {number_to_words(minutes)} minutes"


def _clock_time(rng: random.Random) -> str:
    hour, kind = rng.randint(1, 12), rng.random()
    spoken_hour = number_to_words(hour)
    if kind < 0.12:
        return rng.choice(("noon", "midnight", "midday"))
    if kind < 0.3:
        return f"{spoken_hour} o'clock"
    if kind < 0.45:
        minute_phrase = rng.choice(("quarter past", "half past", "quarter to", "ten past", "twenty to", "five to"))
        return f"{minute_phrase} {spoken_hour}"
    minute = rng.choice((0, 5, 10, 15, 20, 25, 30, 35, 40, 45, 50, 55, rng.randint(1, 59)))
    if minute == 0:
        minutes = ""
    elif minute < 10:
        minutes = " oh " + number_to_words(minute)
    else:
        minutes = " " + number_to_words(minute)
    suffix = rng.choice(("", " a m", " p m", " in the morning", " in the evening", " at night"))
    return f"{spoken_hour}{minutes}{suffix}"


def _date(rng: random.Random) -> str:
    kind = rng.random()
    if kind < 0.35:
        return rng.choice(lx.DAY_REFERENCES)
    if kind < 0.6:
        return rng.choice(("on ", "next ", "this ")) + rng.choice(lx.WEEKDAYS)
    day, month = ordinal_to_words(rng.randint(1, 31)), rng.choice(lx.MONTHS)
    if kind < 0.8:
        return f"on {month} {day}"
    return f"on the {day} of {month}"


def _phone_number(rng: random.Random) -> str:
    return " ".join(number_to_words(rng.randint(0, 9)) for _ in range(rng.choice((3, 4, 7))))


def _contact(rng: random.Random) -> str:
    return rng.choice(lx.FIRST_NAMES) if rng.random() < 0.7 else rng.choice(lx.FAMILY)


def _music(rng: random.Random) -> str:
    kind = rng.random()
    if kind < 0.45:
        return rng.choice(lx.ARTISTS)
    if kind < 0.8:
        return rng.choice(lx.GENRES)
    return rng.choice(lx.MEDIA)


SLOTS: dict[str, Slot] = {
    "contact": _contact, "name": _pick(lx.FIRST_NAMES), "city": _pick(lx.CITIES), "artist": _pick(lx.ARTISTS),
    "music": _music, "genre": _pick(lx.GENRES), "device": _pick(lx.DEVICES), "room": _pick(lx.ROOMS),
    "colour": _pick(lx.COLOURS), "item": _pick(lx.GROCERIES), "list": _pick(lx.LISTS), "task": _pick(lx.TASKS),
    "event": _pick(lx.EVENTS), "duration": _duration, "time": _clock_time, "date": _date,
    "weekday": _pick(lx.WEEKDAYS), "aspect": _pick(lx.WEATHER_ASPECTS),
    "weather_q": _pick(lx.WEATHER_QUESTIONS), "app": _pick(lx.APPS), "unit": _pick(lx.UNITS),
    "currency": _pick(lx.CURRENCIES), "question": _pick(lx.QUESTIONS), "short": _pick(lx.SHORT_COMMANDS),
    "phone": _phone_number, "number": _number, "small": lambda rng: _number(rng, 2, 12),
    "percent": lambda rng: number_to_words(rng.choice(range(5, 101, 5))) + " percent",
    "degrees": lambda rng: number_to_words(rng.randint(16, 80)) + " degrees",
    "ordinal": lambda rng: ordinal_to_words(rng.randint(1, 12)),
    "year": lambda rng: rng.choice(("nineteen ", "two thousand ")) + number_to_words(rng.randint(1, 99)),
}

TEMPLATES: dict[str, tuple[str, ...]] = {
    "timer": ("set a timer for {duration}", "start a {duration} timer", "timer for {duration}",
              "how much time is left on my timer", "cancel the {duration} timer", "add {duration} to the timer",
              "set a {duration} timer for the {item}", "pause the timer", "stop all timers"),
    "alarm": ("set an alarm for {time}", "wake me up at {time} {date}", "set an alarm for {time} {date}",
              "cancel my alarm for {time}", "snooze the alarm for {duration}", "what alarms do i have {date}",
              "change my {time} alarm to {time}", "turn off all alarms", "wake me up in {duration}"),
    "reminder": ("remind me to {task}", "remind me to {task} at {time}", "remind me {date} to {task}",
                 "remind me to {task} in {duration}", "set a reminder to {task} {date} at {time}",
                 "don't let me forget to {task}", "what are my reminders for {date}",
                 "add {event} with {name} {date} at {time}", "schedule a {event} {date}",
                 "move my {event} to {time}", "when is my next {event}", "cancel my {event} {date}"),
    "call": ("call {contact}", "call {contact} on speaker", "phone {contact}", "video call {contact}",
             "dial {phone}", "call {contact} back", "send a message to {contact}",
             "text {contact} that i'm running {duration} late", "tell {contact} i'll be home at {time}",
             "read my messages from {contact}", "reply to {contact} saying sounds good",
             "email {contact} about the {event}", "send {contact} my location"),
    "home": ("turn on the {room} {device}", "turn off the {device} in the {room}", "switch off the {device}",
             "dim the {room} lights to {percent}", "set the {room} lights to {colour}",
             "set the thermostat to {degrees}", "make the {room} warmer", "is the {device} on",
             "open the {device}", "close the {room} blinds", "lock the front door", "start the {device}",
             "turn the {device} up to {percent}", "turn everything off in the {room}",
             "set the {room} temperature to {degrees} {date}", "turn the heating off at {time}"),
    "weather": ("what's the {aspect} in {city}", "what's the weather like in {city} {date}",
                "{weather_q} {date}", "{weather_q} in {city} {date}", "how hot is it in {city}",
                "what's the {aspect} for {date}", "give me the {aspect} for {city}",
                "is it raining in {city}", "how cold will it be {date}"),
    "music": ("play {music}", "play some {genre}", "play songs by {artist}", "shuffle {artist}",
              "play {genre} in the {room}", "put on {music}", "play the latest album by {artist}",
              "who sings this song", "add this song to my playlist", "set the volume to {percent}",
              "turn the volume down to {small}", "play {artist} on the {room} speaker",
              "play {music} for {duration}", "like this song"),
    "shopping": ("add {item} to my {list}", "add {item} and {item} to the {list}", "put {item} on my {list}",
                 "remove {item} from my {list}", "what's on my {list}", "do i need {item}",
                 "add {small} {item} to the {list}", "clear my {list}", "read me my {list}",
                 "order more {item}"),
    "misc": ("{question}", "{short}", "open {app}", "turn on {app}", "turn off {app}", "what's {number} plus {number}",
             "what's {number} times {small}", "convert {number} {unit} to {unit}",
             "how many {unit} in a {unit}", "convert {number} {currency} to {currency}",
             "navigate to {city}", "how long does it take to drive to {city}", "what time is it in {city}",
             "set a countdown to {date}", "what happened in {year}", "who was born on {date}",
             "take me to the {ordinal} result", "read the {ordinal} message"),
}
_INTENT_WEIGHTS = {"timer": 1.0, "alarm": 1.0, "reminder": 1.3, "call": 1.2, "home": 1.5, "weather": 1.0,
                   "music": 1.3, "shopping": 1.0, "misc": 1.3}


def fill(template: str, rng: random.Random) -> str:
    """Replace every ``{slot}`` in ``template`` with a value drawn from ``SLOTS``."""
    return _SLOT_RE.sub(lambda m: SLOTS[m.group(1)](rng), template)


def _decorate(sentence: str, rng: random.Random) -> str:
    roll = rng.random()
    if roll < 0.15:
        return f"{rng.choice(lx.POLITE_PREFIXES)} {sentence}"
    if roll < 0.22:
        return f"{sentence} {rng.choice(lx.POLITE_SUFFIXES)}"
    return sentence


def generate_sentence(rng: random.Random) -> str:
    """One command sentence of ``MIN_WORDS``..``MAX_WORDS`` words in spoken, normalised form."""
    intents = list(_INTENT_WEIGHTS)
    weights = list(_INTENT_WEIGHTS.values())
    while True:
        intent = rng.choices(intents, weights)[0]
        sentence = _decorate(fill(rng.choice(TEMPLATES[intent]), rng), rng)
        if MIN_WORDS <= len(sentence.split()) <= MAX_WORDS:
            return sentence
