"""Word lists for the voice-assistant command grammar.

Every entry is already in spoken, normalised form (lower case, a-z and apostrophes, numbers as words),
so a sentence built from them is its own transcript.
"""

from __future__ import annotations

FIRST_NAMES = tuple("""
olivia liam emma noah amelia oliver sophia elijah charlotte james ava william isabella benjamin mia lucas
evelyn henry harper theodore luna jack camila levi gianna alexander elizabeth jackson eleanor mateo ella
daniel abigail michael sofia mason avery sebastian scarlett ethan emily logan aria owen penelope samuel
chloe jacob layla asher mila aiden nora john hazel joseph madison wyatt ellie david lily leo nova luke
isla julian grace hudson violet grayson aurora matthew riley ezra zoey gabriel willow carter emilia
isaac stella jayden zoe luca victoria anthony hannah dylan addison lincoln leah thomas lucy maverick
eliana josiah ivy christopher natalie andrew paisley nathan everly caleb maya ryan naomi adrian ruby
priya ravi aisha omar fatima yusuf mei hiroshi kenji sakura diego lucia carlos rosa pierre amelie
hans greta lars ingrid sean siobhan kofi amara
""".split())

FAMILY = ("mom", "dad", "mum", "grandma", "grandpa", "my sister", "my brother", "my wife", "my husband",
          "my boss", "the office", "my son", "my daughter", "aunt mary", "uncle bob", "the doctor",
          "the dentist", "my neighbour", "my friend", "the babysitter")

CITIES = tuple("""
london paris berlin madrid rome lisbon dublin amsterdam brussels vienna prague warsaw budapest athens
oslo stockholm helsinki copenhagen zurich geneva munich hamburg milan naples barcelona seville boston
chicago seattle denver houston dallas austin phoenix atlanta miami detroit portland toronto montreal
vancouver ottawa calgary tokyo osaka kyoto seoul beijing shanghai singapore bangkok jakarta manila delhi
mumbai bangalore karachi dubai cairo nairobi lagos johannesburg sydney melbourne brisbane perth auckland
wellington lima bogota santiago quito caracas havana edinburgh glasgow manchester liverpool birmingham
leeds bristol cardiff belfast oxford cambridge
""".split()) + ("new york", "los angeles", "san francisco", "san diego", "las vegas", "new orleans",
                "buenos aires", "rio de janeiro", "sao paulo", "mexico city", "cape town", "hong kong",
                "salt lake city", "kuala lumpur", "tel aviv")

ARTISTS = ("the beatles", "taylor swift", "adele", "ed sheeran", "beyonce", "drake", "coldplay",
           "queen", "david bowie", "elton john", "fleetwood mac", "pink floyd", "the rolling stones",
           "bob marley", "bob dylan", "miles davis", "john coltrane", "nina simone", "ella fitzgerald",
           "frank sinatra", "johnny cash", "dolly parton", "willie nelson", "stevie wonder",
           "michael jackson", "prince", "madonna", "rihanna", "billie eilish", "dua lipa", "the weeknd",
           "bruno mars", "lady gaga", "kendrick lamar", "eminem", "radiohead", "nirvana", "metallica",
           "led zeppelin", "the cure", "daft punk", "norah jones", "amy winehouse", "arctic monkeys",
           "the killers", "u two", "abba", "bach", "mozart", "beethoven", "chopin", "vivaldi", "debussy",
           "louis armstrong", "aretha franklin", "whitney houston", "shakira", "harry styles",
           "olivia rodrigo", "the national", "bon iver", "florence and the machine", "mumford and sons")

GENRES = ("jazz", "classical music", "rock", "pop", "hip hop", "country", "blues", "reggae", "folk",
          "soul", "funk", "disco", "techno", "house music", "ambient music", "lo fi beats", "metal",
          "punk", "indie rock", "r and b", "gospel", "opera", "bossa nova", "salsa", "k pop",
          "piano music", "relaxing music", "workout music", "study music", "sleep sounds", "rain sounds",
          "white noise", "christmas songs", "nineties hits", "eighties music", "love songs")

MEDIA = ("the radio", "my playlist", "my favourites", "the news", "a podcast", "an audiobook",
         "the latest episode", "something upbeat", "something calm", "the next song", "the album",
         "my discover weekly", "the top charts", "the morning show")

DEVICES = ("lights", "lamp", "ceiling fan", "heater", "air conditioner", "thermostat", "television",
           "tv", "speaker", "radio", "coffee maker", "kettle", "oven", "dishwasher", "washing machine",
           "dryer", "vacuum", "robot vacuum", "fan", "humidifier", "dehumidifier", "air purifier",
           "blinds", "curtains", "garage door", "front door lock", "sprinklers", "porch light",
           "floor lamp", "fairy lights", "fireplace", "electric blanket", "doorbell camera", "alarm system")

ROOMS = ("living room", "kitchen", "bedroom", "bathroom", "hallway", "office", "study", "garage",
         "basement", "attic", "dining room", "nursery", "guest room", "kids room", "laundry room",
         "porch", "garden", "patio", "upstairs", "downstairs", "master bedroom", "playroom")

COLOURS = ("red", "blue", "green", "yellow", "orange", "purple", "pink", "white", "warm white",
           "cool white", "turquoise", "violet", "amber", "teal", "gold", "lavender")

GROCERIES = tuple("""
milk eggs bread butter cheese yoghurt apples bananas oranges lemons limes grapes strawberries
blueberries raspberries cherries pears peaches plums mangoes pineapple watermelon avocados tomatoes
potatoes onions garlic carrots celery broccoli cauliflower spinach lettuce cucumbers peppers mushrooms
zucchini pumpkin rice pasta noodles flour sugar salt pepper honey jam peanut cereal oats granola coffee
tea juice water soda chicken beef pork bacon sausages ham turkey salmon tuna shrimp tofu beans lentils
chickpeas almonds walnuts cashews crackers cookies chocolate chips popcorn ketchup mustard mayonnaise
vinegar olive oil soup batteries shampoo conditioner toothpaste soap detergent sponges napkins tissues
diapers candles foil
""".split()) + ("paper towels", "toilet paper", "dog food", "cat food", "ice cream", "orange juice",
                "sparkling water", "trash bags", "light bulbs", "baking soda", "cream cheese",
                "sour cream", "green tea", "brown sugar", "maple syrup", "hot sauce", "frozen peas")

LISTS = ("shopping list", "grocery list", "to do list", "packing list", "wish list", "hardware list",
         "party list", "christmas list")

TASKS = ("take out the trash", "water the plants", "feed the cat", "walk the dog", "call the plumber",
         "pay the rent", "pay the electricity bill", "buy a birthday present", "pick up the kids",
         "pick up the dry cleaning", "take my medicine", "book a haircut", "renew my passport",
         "check the oven", "move the car", "send the report", "reply to the email", "stretch",
         "drink some water", "charge my phone", "lock the back door", "bring an umbrella",
         "return the library books", "buy stamps", "cancel the subscription", "change the sheets",
         "defrost the chicken", "start the laundry", "clean the fridge", "practise the piano",
         "go to the gym", "prepare the presentation", "call the bank", "book the flight",
         "order more printer ink", "check the tyre pressure", "submit my timesheet",
         "schedule a dentist appointment", "wish grandma a happy birthday", "back up the laptop")

EVENTS = ("meeting", "dentist appointment", "doctor's appointment", "dinner", "lunch", "team call",
          "yoga class", "piano lesson", "football practice", "job interview", "flight", "haircut",
          "parent teacher conference", "book club", "date night", "birthday party", "video call",
          "school pickup", "swimming lesson", "board meeting", "coffee", "barbecue")

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")

MONTHS = ("january", "february", "march", "april", "may", "june", "july", "august", "september",
          "october", "november", "december")

DAY_REFERENCES = ("today", "tomorrow", "tonight", "this morning", "this afternoon", "this evening",
                  "this weekend", "next week", "the day after tomorrow", "tomorrow morning",
                  "tomorrow night")

WEATHER_ASPECTS = ("weather", "forecast", "temperature", "chance of rain", "wind speed", "humidity",
                   "uv index", "air quality", "pollen count")

WEATHER_QUESTIONS = ("will it rain", "will it snow", "is it going to be sunny", "will it be windy",
                     "is it going to be cold", "is it going to be hot", "do i need an umbrella",
                     "should i wear a jacket", "will there be a storm", "is it foggy")

APPS = ("camera", "calendar", "calculator", "maps", "settings", "messages", "email", "clock", "notes",
        "photos", "music", "podcasts", "flashlight", "wifi", "bluetooth", "do not disturb",
        "airplane mode", "battery saver", "night mode", "dark mode")

UNITS = ("miles", "kilometres", "pounds", "kilograms", "ounces", "grams", "cups", "teaspoons",
         "tablespoons", "litres", "gallons", "feet", "metres", "inches", "centimetres")

CURRENCIES = ("dollars", "euros", "pounds", "yen", "rupees", "pesos", "francs", "kroner")

QUESTIONS = ("what time is it", "what's the date today", "what day is it", "how are you",
             "tell me a joke", "tell me a fun fact", "what can you do", "who made you",
             "how far is the moon", "how tall is mount everest", "what's the capital of australia",
             "how many days until christmas", "when is sunset", "when is sunrise",
             "what's on my calendar", "do i have any new messages", "read my notifications",
             "what's in the news", "how's the traffic", "how long is my commute",
             "where is the nearest pharmacy", "find a coffee shop nearby", "find a petrol station",
             "what's the score of the game", "who won the match last night", "flip a coin",
             "roll a dice", "pick a random number", "what's my battery level", "where did i park",
             "what's the word of the day", "spell necessary", "define serendipity",
             "how do you say thank you in spanish", "translate good morning into french",
             "what's the square root of one hundred forty four", "how many ounces in a cup")

SHORT_COMMANDS = ("stop", "pause", "resume", "cancel that", "never mind", "go back", "skip this song",
                  "next track", "previous song", "louder", "quieter", "mute", "unmute", "repeat that",
                  "shuffle", "keep going", "thank you", "good night", "good morning", "yes please",
                  "no thanks", "say that again", "volume up", "volume down")

POLITE_PREFIXES = ("please", "hey", "okay", "could you", "can you", "would you", "i'd like you to",
                   "hey assistant", "computer", "quick question")

POLITE_SUFFIXES = ("please", "thanks", "thank you", "right now", "for me", "if you can")
