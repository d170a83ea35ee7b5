"""Cheap checks (gra.checks): every check on its own wordings, positive and negative.

The cases here are written independently of benchmarks/data/review_dev.jsonl (other topics,
other phrasings), so that the checks are held to the kinds of defect, not to the dev set.
"""

from __future__ import annotations

import pytest

from gra.checks import (
    CHECKS,
    DESCRIPTIONS,
    CheckResult,
    CheckSettings,
    check_names,
    parse_constraints,
    run_checks,
)


def names(instruction: str, response: str, input_text: str = "", **kw) -> set[str]:
    return {r.name for r in run_checks(instruction, input_text, response, **kw)}


# --------------------------------------------------------------------------- interface


def test_registry_and_descriptions_agree():
    assert set(CHECKS) == set(DESCRIPTIONS)
    for legacy in ("response_error", "empty_response", "truncated",
                   "response_repeats_instruction"):  # fmt: skip
        assert legacy in CHECKS
    assert {"empty", "refusal", "repetition", "code_syntax"} <= set(CHECKS)
    assert all(n.startswith("format:") for n in CHECKS if ":" in n)


def test_result_shape_and_pass():
    out = run_checks("What is 15% of 80? Reply with just the number.", "", "12")
    assert out == []
    out = run_checks("What is 15% of 80? Reply with just the number.", "", "It is 12.")
    assert out and isinstance(out[0], CheckResult)
    assert out[0].name == "format:only_number"
    assert "\n" not in out[0].detail and out[0].detail


def test_finish_reason():
    assert names("Tell me a joke.", "Why did the", finish_reason="length") >= {"truncated"}
    assert "truncated" in names("Tell me a joke.", "A complete joke.", finish_reason="length")
    assert names("Tell me a joke.", "", finish_reason="error") == {
        "response_error", "empty_response"}  # fmt: skip
    assert names("Tell me a joke.", "A complete joke.", finish_reason="stop") == set()


def test_enabled_groups_and_disabled_settings():
    instr = "Name a primary color. Answer in one word."
    resp = "I'm sorry, but I can't help with that."
    assert names(instr, resp) == {"refusal", "format:one_word"}
    assert names(instr, resp, enabled=["refusal"]) == {"refusal"}
    assert names(instr, resp, enabled=["format"]) == {"format:one_word"}
    assert names(instr, resp, enabled=["format:*"]) == {"format:one_word"}
    off = CheckSettings(disabled=frozenset({"refusal"}))
    assert names(instr, resp, settings=off) == {"format:one_word"}
    off = CheckSettings(disabled=frozenset({"format"}))
    assert names(instr, resp, settings=off) == {"refusal"}
    assert check_names(["empty", "format:json"]) == ["empty", "format:json"]
    with pytest.raises(ValueError, match="unknown cheap check"):
        run_checks(instr, "", resp, enabled=["no_such_check"])
    with pytest.raises(ValueError, match="unknown cheap check"):
        run_checks(instr, "", resp, settings=CheckSettings(disabled=frozenset({"refusl"})))


def test_repeats_instruction():
    assert "response_repeats_instruction" in names(
        "Write a tagline for a bakery.", "  write a tagline for a bakery  "
    )
    assert "response_repeats_instruction" not in names(
        "Write a tagline for a bakery.", "Fresh from our oven to your table."
    )


# --------------------------------------------------------------------------- empty

EMPTY = [
    ("Describe the water cycle.", "   "),
    ("Describe the water cycle.", "-"),
    ("Describe the water cycle.", "…"),
    ("Write a bash script that backs up /etc.", "```bash\n```"),
    ("Write a bash script that backs up /etc.", "Here's the script:"),
    ("Explain how vaccines work.", "Absolutely! Happy to help."),
    ("Explain how vaccines work.", "I'd be glad to help with that!"),
    ("Summarize the article below.", "Below is a summary:"),
    ("What is the GDP of France?", "What a great question!"),
    ("Translate 'good night' into German.", "Sure thing, here it is:"),
    ("List three uses of baking soda.", "The answer:"),
    ("Explain the causes of inflation.", "Inflation."),
    ("Write a short story about a lighthouse keeper.", "Okay!"),
    ("Give me some tips for learning guitar.", "TBD"),
]


@pytest.mark.parametrize("instruction,response", EMPTY)
def test_empty_positive(instruction, response):
    got = names(instruction, response)
    assert got & {"empty", "empty_response"}, got


SHORT_OK = [
    ("Is 17 a prime number?", "Yes."),
    ("Is the Pacific the largest ocean?", "Absolutely."),
    ("What is 6 times 7?", "42"),
    ("What is the capital of Kenya?", "Nairobi"),
    ("Which is heavier, a kilogram of feathers or a kilogram of iron?", "Neither."),
    ("Translate 'thank you' into Japanese.", "ありがとう"),
    ("Describe the mood of Poe's poem The Raven in one word.", "Melancholy"),
    ("How do I get the length of a list in Python?", "`len(my_list)`"),
    ("What does JavaScript print for typeof null?", "object"),
    ("Classify the sentiment of: 'I loved it!'", "Positive"),
    ("Which number is missing: 2, 4, _, 8?", "6"),
    ("Give a synonym for 'happy'.", "Joyful"),
]


@pytest.mark.parametrize("instruction,response", SHORT_OK)
def test_short_answers_pass(instruction, response):
    assert names(instruction, response) == set()


# --------------------------------------------------------------------------- refusal

REFUSALS = [
    "I'm sorry, but I cannot assist with that request.",
    "Sorry — I won't be able to help you with this.",
    "As an AI developed to be helpful, I am not able to write essays for students.",
    "As a language model, I don't have the ability to solve math problems.",
    "I apologise, but I can't provide a translation.",
    "Unfortunately I'm not able to answer questions about chemistry.",
    "I must respectfully decline to answer.",
    "That request goes against my guidelines, so I won't respond.",
    "Hmm, this isn't something I can help with. Maybe ask a teacher?",
    "I am not in a position to give recommendations on this topic.",
    "I would rather not discuss that. Let's talk about something else.",
    "My apologies, but I'm unable to generate that content.",
    "I don't have enough information to answer that.",
    "I'm afraid that's beyond what I can do. Please consult a specialist.",
]


@pytest.mark.parametrize("response", REFUSALS)
def test_refusal_positive(response):
    assert "refusal" in names("Explain how a bicycle gear system works.", response)


NOT_REFUSALS = [
    (
        "Why can't you divide by zero?",
        "You can't divide by zero because no number multiplied by 0 gives a nonzero result, "
        "so the quotient would be undefined.",
    ),
    (
        "Recommend a sci-fi novel.",
        "Try 'The Left Hand of Darkness' by Ursula K. Le Guin. I can't recommend it enough: "
        "it is thoughtful, strange and beautifully written.",
    ),
    (
        "Write a short text message declining a party invitation.",
        "Hi Sam! Thanks so much for the invite. I'm sorry, but I can't make it on Saturday "
        "because I'll be out of town. Have a great time!",
    ),
    (
        "Write a first-person poem about a storm.",
        "I cannot hold the wind,\nI cannot stop the rain,\nI only watch the thunder\n"
        "walk across the plain.",
    ),
    (
        "Can I take ibuprofen with coffee?",
        "Yes, for most people it's fine to take ibuprofen with coffee. I'm not a doctor, "
        "but the main issue is that both can irritate the stomach, so take ibuprofen with "
        "food. If you have ulcers or kidney problems, ask a pharmacist first.",
    ),
    (
        "What is the weather today in Paris?",
        "I don't have access to live weather data, but you can check Météo-France or a "
        "weather app for current conditions in Paris; in spring, expect highs around 15°C.",
    ),
    (
        "How do I tell my boss I can't work overtime?",
        "Be direct and polite: \"I won't be able to stay late this week because of family "
        'commitments, but I can finish the report by Friday morning." Offer an alternative '
        "so it is clear you still care about the deadline.",
    ),
]


@pytest.mark.parametrize("instruction,response", NOT_REFUSALS)
def test_refusal_negative(instruction, response):
    assert "refusal" not in names(instruction, response)


def test_refusal_long_answer_after_disclaimer_passes():
    resp = "I can't predict the market. " + "Index funds spread risk across many firms. " * 12
    assert "refusal" not in names("Should I buy index funds?", resp)


# --------------------------------------------------------------------------- repetition

REPEATS = [
    "Mix the flour and the the the the the the the the the the",
    "Water boils at 100 °C at sea level. " * 5,
    "Step one is to is to is to is to is to is to is to is to",
    "- Drink water\n- Get sunlight\n- Drink water\n- Get sunlight\n- Drink water\n"
    "- Get sunlight\n- Drink water\n- Get sunlight",
    "1. Preheat the oven to 200 °C.\n2. Preheat the oven to 200 °C.\n"
    "3. Preheat the oven to 200 °C.\n4. Preheat the oven to 200 °C.",
    (
        "Photosynthesis turns light into chemical energy stored in glucose, using water and "
        "carbon dioxide and releasing oxygen as a by-product of the reaction. "
    )
    * 2,
    "```python\nfor i in range(3):\n    total += values[i]\n    total += values[i]\n"
    "    total += values[i]\n    total += values[i]\n```",
    "The key idea is that the key idea is that the key idea is that the key idea is that",
    "1, 2, 3, 1, 2, 3, 1, 2, 3, 1, 2, 3, 1, 2, 3, 1, 2, 3, 1, 2, 3, 1, 2, 3, 1, 2, 3",
]


@pytest.mark.parametrize("response", REPEATS)
def test_repetition_positive(response):
    assert "repetition" in names("Explain it to me.", response)


NOT_REPEATS = [
    (
        "Write a short poem with a refrain.",
        "The tide comes in, the tide goes out,\nthe gulls are crying all about.\n"
        "The tide comes in, the tide goes out,\nand no one knows what it's about.",
    ),
    (
        "Write a song chorus.",
        "Oh, carry me home, carry me home,\nacross the water, carry me home.\n\n"
        "Oh, carry me home, carry me home,\nacross the water, carry me home.\n\n"
        "Oh, carry me home, carry me home,\nacross the water, carry me home.",
    ),
    (
        "Write a Python function that initialises a 3x3 grid of zeros.",
        "```python\ndef make_grid():\n    return [\n        [0, 0, 0],\n        [0, 0, 0],\n"
        "        [0, 0, 0],\n    ]\n```",
    ),
    (
        "Compare Python lists, tuples and sets in a table.",
        "| feature | list | tuple | set |\n|---|---|---|---|\n| ordered | yes | yes | no |\n"
        "| mutable | yes | no | yes |\n| duplicates | yes | yes | no |",
    ),
    (
        "Give me a weekly workout plan.",
        "- Monday: 30 minutes of brisk walking\n- Tuesday: strength training\n"
        "- Wednesday: 30 minutes of brisk walking\n- Thursday: rest\n"
        "- Friday: 30 minutes of brisk walking\n- Saturday: yoga\n- Sunday: rest",
    ),
    (
        "What is a common motivational phrase?",
        '"Practice, practice, practice." Repetition builds skill.',
    ),
    (
        "Write unit tests for add(a, b).",
        "```python\ndef test_add():\n    assert add(1, 2) == 3\n    assert add(0, 0) == 0\n"
        "    assert add(-1, 1) == 0\n    assert add(2, 2) == 4\n```",
    ),
]


@pytest.mark.parametrize("instruction,response", NOT_REPEATS)
def test_repetition_negative(instruction, response):
    assert "repetition" not in names(instruction, response)


# --------------------------------------------------------------------------- truncation

TRUNCATED = [
    "The French Revolution began in 1789 when the Estates-General met at Versailles. "
    "Within weeks, the Third Estate declared itself the National Assembly and",
    "Mitochondria produce energy for the cell through a process called cellular resp",
    "```javascript\nfunction sum(a, b) {\n  return a + b;\n}\n",
    '```go\nfunc main() {\n    fmt.Println("hi")\n```',
    "Here are the steps:\n1. Open the settings menu.\n2. Choose Accounts.\n3. Click on the",
    "Use `git rebase -i` to squash commits, then run `git push --force",
    "To make the dough, combine the flour, salt and yeast (use instant yeast if",
    "The main benefits of regular exercise are better sleep, lower blood pressure,",
    "Dear Mr. Lee,\n\nThank you for the interview last week. I wanted to follow up on the",
    "A good night's sleep improves memory. Deep sleep in particular helps the brain "
    "consolidate what it learned during the day, which is why students who sleep well "
    "tend to perform better on",
]


@pytest.mark.parametrize("response", TRUNCATED)
def test_truncated_positive(response):
    assert "truncated" in names("Explain it.", response)


def test_truncated_unfenced_code_cut_mid_word():
    resp = "def total(values):\n    result = sum(values)\n    return res"
    assert "truncated" in names("Write a function that sums values.", resp)


def test_truncated_mid_word_of_instruction_word():
    instr = "Why do leaves change colour in autumn?"
    resp = (
        "In autumn, trees stop producing chlorophyll, so the green fades and the yellow "
        "and orange pigments that were there all along become vis"
    )
    assert "truncated" in names(instr, resp)
    resp2 = (
        "In autumn, trees stop producing chlorophyll; the green fades and other colours "
        "show. Cooler nights also break down chlorophyll in the lea"
    )
    assert "truncated" in names(instr, resp2)


NOT_TRUNCATED = [
    ("What is 12 squared?", "144"),
    ("Name the largest planet.", "Jupiter"),
    (
        "Write a haiku about snow.",
        "white hush on the fields\nfootprints fill before morning\nthe fox keeps its path",
    ),
    (
        "Suggest a title for a blog post about home composting.",
        "Turning kitchen scraps into black gold for your garden beds",
    ),
    ("List the primary colours.", "- Red\n- Yellow\n- Blue"),
    (
        "List the steps to boil pasta.",
        "1. Bring salted water to a boil\n2. Add the pasta and stir\n3. Cook until al dente\n"
        "4. Drain and serve with sauce",
    ),
    (
        "Write a Python function that squares a number.",
        "```python\ndef square(x):\n    return x * x\n```",
    ),
    ("Give me the JSON for a user named Ann aged 30.", '{"name": "Ann", "age": 30}'),
    (
        "Write a Python function that adds two numbers.",
        "Here is the function:\n\ndef add(a, b):\n    return a + b",
    ),
    (
        "Write a loop that sums a list.",
        "total = 0\nfor x in xs:\n    total += x",
    ),
    ("Write a shell command that lists all files with details.", "ls -la"),
    (
        "Write a short email asking for a day off.",
        "Hi Priya,\n\nCould I take Friday off to attend a family event? My tasks are on "
        "track and Sam has agreed to cover urgent requests.\n\nThanks,\nLuis",
    ),
    (
        "Where can I read the Python docs?",
        "The official documentation is at https://docs.python.org/3/",
    ),
    (
        "What is the formula for the area of a triangle?",
        "The area is half the base times the height:\n\nA = b × h / 2",
    ),
    ("Solve 2x = 10.", "Divide both sides by 2:\n\nx = 5"),
    (
        "Write a limerick about a frog.",
        "A frog with a passion for tea\nWould sip it beneath a tall tree;\nHe'd steep it for hours,"
        "\nAdd petals of flowers,\nAnd share it with every bee!",
    ),
    ("Translate 'Where is the library?' into Spanish.", "¿Dónde está la biblioteca?"),
    ("How do you say hello in Chinese?", "你好 (nǐ hǎo)。"),
    ("Give me a motivational quote.", '"The best way out is always through." — Robert Frost'),
    (
        "What should I buy for a salted caramel sauce?",
        "You need:\n- sugar\n- butter\n- heavy cream\n- flaky sea salt",
    ),
    ("Show the Fibonacci numbers below 20.", "0, 1, 1, 2, 3, 5, 8, 13"),
    (
        "Compare cats and dogs in a table.",
        "| | cats | dogs |\n|---|---|---|\n| exercise | low | high |\n"
        "| grooming | self | regular |",
    ),
]


@pytest.mark.parametrize("instruction,response", NOT_TRUNCATED)
def test_truncated_negative(instruction, response):
    assert "truncated" not in names(instruction, response)


# --------------------------------------------------------------------------- code syntax


def test_code_syntax():
    instr = "Write a Python function that reverses a string."
    bad = "```python\ndef rev(s)\n    return s[::-1]\n```"
    good = "```python\ndef rev(s):\n    return s[::-1]\n```"
    repl = "```python\n>>> 'abc'[::-1]\n'cba'\n```"
    untagged_bad = "```\ndef rev(s) return s[::-1]\n```"
    assert "code_syntax" in names(instr, bad)
    assert "code_syntax" not in names(instr, good)
    assert "code_syntax" not in names(instr, repl)
    assert "code_syntax" in names(instr, untagged_bad)
    js = "```javascript\nconst rev = s => s.split('').reverse().join('');\n```"
    assert names("Write a JavaScript function that reverses a string.", js) == set()


# --------------------------------------------------------------------------- format constraints

FORMAT_BAD = [
    (
        "format:only_number",
        "How many legs does a spider have? Respond with just the number.",
        "A spider has 8 legs.",
    ),
    ("format:only_number", "What is 7 cubed? Give only the numeric answer.", "7 × 7 × 7 = 343"),
    (
        "format:one_word",
        "What color do you get by mixing blue and yellow? Reply in a single word.",
        "You get green.",
    ),
    (
        "format:one_word",
        "Give a one-word answer: what is the opposite of hot?",
        "The opposite is cold",
    ),
    ("format:only_answer", "Simplify 6/8. Answer with only the fraction.", "It simplifies to 3/4."),
    (
        "format:only_answer",
        "Give a regex for a 3-letter lowercase word. Reply with only the regex.",
        "Use the pattern [a-z]{3} with anchors around it.",
    ),
    (
        "format:only_answer",
        "Who painted the Mona Lisa? Respond with only the name.",
        "The Mona Lisa was painted by Leonardo da Vinci around 1503.",
    ),
    ("format:yes_no", "Is a tomato a fruit? Answer yes or no.", "Botanically, it is a fruit."),
    (
        "format:pattern",
        "What is the date one week after 2024-03-01? Answer only with the date "
        "in YYYY-MM-DD format.",
        "March 8, 2024",
    ),
    (
        "format:json",
        "Give the boiling and freezing points of water in Celsius as JSON with the "
        'keys "boiling" and "freezing".',
        '{"boil": 100, "freeze": 0}',
    ),
    (
        "format:json",
        "Return a JSON object with fields name and capital for France.",
        "name: France, capital: Paris",
    ),
    ("format:json", "List three fruits as a JSON array of strings.", "apple, banana, cherry"),
    ("format:json", "List three fruits as a JSON array of strings.", '["apple", 2, "cherry"]'),
    (
        "format:code_fence",
        "Write a SQL query that counts rows in `users`. Wrap it in a code block.",
        "SELECT COUNT(*) FROM users;",
    ),
    (
        "format:code_only",
        "Write a Python one-liner that sums a list. Reply with only the code, no explanation.",
        "```python\nprint(sum(xs))\n```\nThis prints the total of the list.",
    ),
    (
        "format:max_words",
        "Describe the ocean in no more than 10 words.",
        "The ocean is a vast, deep and mysterious body of salt water covering most of Earth.",
    ),
    (
        "format:max_words",
        "Summarise the plot of Hamlet in under twenty words.",
        "Prince Hamlet seeks revenge on his uncle Claudius, who murdered Hamlet's father and "
        "married his mother, and nearly everyone dies.",
    ),
    ("format:min_words", "Write at least 30 words about autumn.", "Autumn is cool and colorful."),
    (
        "format:sentences",
        "Describe a cat in exactly three sentences.",
        "Cats are independent. They sleep a lot.",
    ),
    (
        "format:sentences",
        "Explain gravity in one sentence.",
        "Gravity pulls masses together. It keeps us on the ground. It shapes orbits.",
    ),
    (
        "format:sentences",
        "Explain recursion in no more than two sentences.",
        "Recursion is when a function calls itself. Each call works on a smaller input. "
        "A base case stops it. Without one it never ends.",
    ),
    (
        "format:paragraphs",
        "Write two paragraphs about the moon.",
        "The moon orbits Earth every 27 days and shapes our tides.",
    ),
    (
        "format:bullets",
        "Give four benefits of cycling as bullet points.",
        "Cycling improves fitness, saves money, reduces pollution and is fun.",
    ),
    (
        "format:bullets",
        "Provide exactly two bullet points on why sleep matters.",
        "- It restores the body.\n- It consolidates memory.\n- It regulates mood.",
    ),
    (
        "format:bullets",
        "Explain the rules of chess without bullet points.",
        "- Each side has 16 pieces.\n- White moves first.\n- Checkmate wins.",
    ),
    (
        "format:numbered",
        "Explain how to change a tire as a numbered list.",
        "Loosen the nuts, jack up the car, swap the tire and tighten the nuts again.",
    ),
    (
        "format:numbered",
        "Give a numbered list of 4 European capitals.",
        "1. Paris\n2. Rome\n3. Madrid",
    ),
    (
        "format:item_count",
        "List five vegetables that grow well in shade.",
        "- Lettuce\n- Spinach\n- Kale",
    ),
    (
        "format:comma_list",
        "Name four planets as a comma-separated list.",
        "Mercury\nVenus\nEarth\nMars",
    ),
    (
        "format:comma_list",
        "Name the first four planets, separated by commas.",
        "Mercury, Venus, Earth",
    ),
    (
        "format:lowercase",
        "Write a tweet about coffee. Use only lowercase letters.",
        "Monday mornings need coffee.",
    ),
    ("format:uppercase", "Reply in all caps: what is the loudest animal?", "The blue whale"),
    (
        "format:starts_with",
        'Write a greeting card message. Start your message with "Dear friend".',
        "Happy birthday, dear friend!",
    ),
    (
        "format:ends_with",
        'Write a short pep talk and end it with "You\'ve got this!"',
        "Keep going, the hard part is behind you.",
    ),
    (
        "format:table",
        "Compare tea and coffee in a table.",
        "Tea has less caffeine than coffee, and coffee is more bitter.",
    ),
    (
        "format:no_commas",
        "Describe your ideal weekend without using any commas.",
        "Sleeping in, reading, and a long walk.",
    ),
    (
        "format:quoted",
        "Wrap your entire response in double quotation marks. Give a motto.",
        "Stay curious.",
    ),
    (
        "format:title",
        "Write a poem about rain with a title wrapped in double angular brackets, like <<title>>.",
        "Rain\n\nsoft rain on the roof",
    ),
    (
        "format:forbidden_words",
        'Describe the sun without using the word "hot".',
        "The sun is a hot ball of plasma.",
    ),
    (
        "format:required_words",
        'Write a sentence that includes the words "river" and "lantern".',
        "A lantern glowed on the shore.",
    ),
]


@pytest.mark.parametrize("check,instruction,response", FORMAT_BAD)
def test_format_positive(check, instruction, response):
    got = names(instruction, response)
    assert check in got, got


FORMAT_GOOD = [
    ("How many legs does a spider have? Respond with just the number.", "8"),
    ("What's 1/4 as a percentage? Answer with only a number.", "25%"),
    ("Price of 3 apples at $0.50 each? Only the number, please.", "$1.50"),
    ("What color do you get by mixing blue and yellow? Reply in a single word.", "Green."),
    ("Simplify 6/8. Answer with only the fraction.", "3/4"),
    ("Who painted the Mona Lisa? Respond with only the name.", "Leonardo da Vinci"),
    ("Is a tomato a fruit? Answer yes or no.", "Yes"),
    (
        "Is a tomato a fruit? Answer yes or no, then explain briefly.",
        "Yes. Botanically it develops from the flower's ovary and contains seeds.",
    ),
    (
        "What is the date one week after 2024-03-01? Answer only with the date in YYYY-MM-DD "
        "format.",
        "2024-03-08",
    ),
    (
        "Give the boiling and freezing points of water in Celsius as JSON with the keys "
        '"boiling" and "freezing".',
        '{"boiling": 100, "freezing": 0}',
    ),
    (
        "Return a JSON object with fields name and capital for France.",
        '```json\n{"name": "France", "capital": "Paris"}\n```',
    ),
    ("List three fruits as a JSON array of strings.", '["apple", "banana", "cherry"]'),
    (
        "Write a SQL query that counts rows in `users`. Wrap it in a code block.",
        "```sql\nSELECT COUNT(*) FROM users;\n```",
    ),
    (
        "Write a Python one-liner that sums a list. Reply with only the code, no explanation.",
        "```python\nprint(sum(xs))\n```",
    ),
    (
        "Describe the ocean in no more than 10 words.",
        "Vast, deep, salty and still largely unexplored.",
    ),
    (
        "Write at least 30 words about autumn.",
        "Autumn arrives quietly: mornings turn crisp, maples blush red and gold, and the air "
        "smells of woodsmoke and wet leaves. Afternoons shorten, sweaters return, and the "
        "garden settles into a long, slow sleep.",
    ),
    (
        "Describe a cat in exactly three sentences.",
        "Cats are independent animals. They sleep up to sixteen hours a day. Dr. Smith's cat, "
        "Mr. Whiskers, prefers the sunny windowsill.",
    ),
    (
        "Explain gravity in one sentence.",
        "Gravity is the attraction between masses, which keeps us on the ground and the planets "
        "in orbit around the Sun.",
    ),
    (
        "Give a one-sentence summary and then list three key points.",
        "The report finds that remote work raised output.\n\n- Fewer commutes\n"
        "- Flexible hours\n- Better focus",
    ),
    (
        "Write a two-sentence horror story.",
        "I heard my mother calling me from the kitchen. As I walked toward her, she pulled me "
        'into the closet and whispered, "I heard it too."',
    ),
    (
        "Explain photosynthesis in 2-3 sentences.",
        "Plants capture sunlight with chlorophyll. They use it to turn water and carbon dioxide "
        "into sugar, releasing oxygen.",
    ),
    (
        "Write two paragraphs about the moon.",
        "The moon orbits Earth every 27 days.\n\nIts gravity drives the tides.",
    ),
    (
        "Give four benefits of cycling as bullet points.",
        "- Better fitness\n- Lower costs\n- Less pollution\n- More fun",
    ),
    (
        "Explain the rules of chess without bullet points.",
        "Each side starts with 16 pieces and White moves first. The goal is checkmate.",
    ),
    (
        "Explain how to change a tire as a numbered list.",
        "1. Loosen the nuts.\n2. Jack up the car.\n3. Swap the tire.\n4. Tighten the nuts.",
    ),
    (
        "List five vegetables that grow well in shade.",
        "1. Lettuce\n2. Spinach\n3. Kale\n4. Chard\n5. Arugula",
    ),
    (
        "Give me 3 study tips.",
        "**1. Space it out**\n- Review over several days.\n\n**2. Test yourself**\n"
        "- Use flashcards.\n- Explain it aloud.\n\n**3. Sleep**\n- Rest consolidates memory.",
    ),
    ("Name four planets as a comma-separated list.", "Mercury, Venus, Earth, Mars"),
    ("Name the first four planets, separated by commas.", "Mercury, Venus, Earth and Mars"),
    ("Write a tweet about coffee. Use only lowercase letters.", "monday mornings need coffee ☕"),
    ("Reply in all caps: what is the loudest animal?", "THE BLUE WHALE"),
    (
        'Write a greeting card message. Start your message with "Dear friend".',
        "Dear friend, happy birthday!",
    ),
    (
        'Write a short pep talk and end it with "You\'ve got this!"',
        "The hard part is behind you. Keep going. You've got this!",
    ),
    (
        "Describe your ideal weekend without using any commas.",
        "Sleeping in and reading by a window.",
    ),
    ("Wrap your entire response in double quotation marks. Give a motto.", '"Stay curious."'),
    ('Describe the sun without using the word "hot".', "The sun is a huge ball of plasma."),
    (
        'Write a sentence that includes the words "river" and "lantern".',
        "A lantern drifted down the river.",
    ),
    ("Convert the word HELLO to lowercase.", "hello"),
    (
        "Write a Python function that returns only the even numbers from a list.",
        "```python\ndef evens(xs):\n    return [x for x in xs if x % 2 == 0]\n```",
    ),
    (
        "Write a function that converts a string to uppercase.",
        "```python\ndef shout(s):\n    return s.upper()\n```",
    ),
    (
        "Write a Python function that parses JSON from a file.",
        "```python\nimport json\n\ndef load(path):\n    with open(path) as f:\n"
        "        return json.load(f)\n```",
    ),
    (
        "Summarize each paragraph in one sentence.",
        "Paragraph 1 introduces the problem. Paragraph 2 proposes a fix. Paragraph 3 tests it.",
    ),
    (
        "Explain what a code block is in Markdown.",
        "A code block is text set off with triple backticks so it renders in a monospace font.",
    ),
    (
        "Summarize the three paragraphs below.",
        "The author argues for a four-day week, cites two trials, and warns about costs.",
    ),
    ("Answer in one word or a short phrase: what do bees make?", "Honey and wax"),
    ("Respond only in Spanish: how are you?", "Estoy bien, gracias."),
]


@pytest.mark.parametrize("instruction,response", FORMAT_GOOD)
def test_format_negative(instruction, response):
    assert names(instruction, response) == set()


NO_CONSTRAINT = [
    "Why is the sky blue?",
    "Write a Python function that checks if a number is prime.",
    "Explain what JSON is.",
    "Tell me about the history of the bullet train.",
    "How many words are in the English language?",
    "What is a sentence fragment?",
    "Convert the string 'Hello' to lowercase in JavaScript.",
    "Write a program that prints only the odd numbers up to 10.",
    "What is the number of moons of Mars?",
    "Write a Python script that fetches weather data. Output the result as JSON.",
    'Name a fruit that starts with the letter "A".',
    'Write a poem where each line starts with "I remember".',
]


@pytest.mark.parametrize("instruction", NO_CONSTRAINT)
def test_no_constraint_found(instruction):
    assert parse_constraints(instruction) == []


def test_constraint_arguments():
    (c,) = parse_constraints("Respond in JSON with keys 'city' and 'population'.")
    assert c.kind == "json" and c.args["keys"] == ["city", "population"]
    (c,) = parse_constraints("Use at most twenty-five words.")
    assert c.kind == "max_words" and c.args["max"] == 25
    (c,) = parse_constraints("Give me exactly seven bullet points.")
    assert c.kind == "bullets" and c.args["count"] == 7
    (c,) = parse_constraints("Write a three-sentence summary.")
    assert c.kind == "sentences" and (c.args["min"], c.args["max"]) == (3, 3)


def test_format_checks_skip_empty_responses():
    # an empty answer is `empty_response`, not also a broken format
    assert names("Answer with only a number: 2 + 2?", "") == {"empty_response"}


def test_dev_set_loads_and_good_rows_pass():
    """Smoke check against the labeled dev set: no false positives on its good pairs."""
    import json
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "benchmarks" / "data" / "review_dev.jsonl"
    rows = [json.loads(x) for x in path.read_text().splitlines() if x.strip()]
    good = [r for r in rows if r["kind"] == "good"]
    flagged = [r["id"] for r in good if run_checks(r["instruction"], r["input"], r["response"])]
    assert len(flagged) <= 0.03 * len(good), flagged


# --------------------------------------------------------------------------- settings


def test_settings_from_mapping():
    st = CheckSettings.from_mapping({"disabled": ["refusal"], "max_word_run": 8})
    assert st.disabled == frozenset({"refusal"}) and st.max_word_run == 8
    with pytest.raises(ValueError, match="max_wordrun"):
        CheckSettings.from_mapping({"max_wordrun": 8})


def test_thresholds_move_the_checks():
    resp = "It is very very very very very good."
    assert "repetition" in names("Review the film.", resp)
    assert "repetition" not in names("Review the film.", resp, settings=CheckSettings(
        max_word_run=6))  # fmt: skip
    long = "Keep it short. " + "This is one more sentence about it. " * 3
    instr = "Describe the city in at most 10 words."
    assert "format:max_words" in names(instr, long)
    loose = CheckSettings(word_limit_slack=3.0)
    assert "format:max_words" not in names(instr, long, settings=loose)


# --------------------------------------------------------------------------- more good pairs

MORE_GOOD = [
    (
        "Write a short email to a colleague asking for the Q3 report.",
        "Subject: Q3 report\n\nHi Dana,\n\nCould you send me the Q3 sales report when you have a "
        "moment? I'd like to review it before Friday's meeting.\n\nThanks,\nAlex",
    ),
    (
        "Give me a recipe for pancakes.",
        "## Ingredients\n\n- 1 cup flour\n- 1 tbsp sugar\n- 1 cup milk\n- 1 egg\n\n## Steps\n\n"
        "1. Whisk the dry ingredients.\n2. Mix in the milk and egg.\n3. Cook on a hot griddle "
        "until bubbles form, then flip.\n\nServe warm with maple syrup.",
    ),
    ("Solve: 2x + 3 = 11", "2x + 3 = 11\n2x = 8\nx = 4"),
    ("Convert 100 °F to Celsius.", "(100 − 32) × 5/9 ≈ 37.8 °C"),
    (
        "What is the area of a circle of radius 3 cm?",
        "A = πr², so:\n\nA = π × 3² = 9π cm² ≈ 28.27 cm²",
    ),
    (
        "Write a dialogue between a customer and a waiter.",
        "Waiter: Good evening! Are you ready to order?\nCustomer: Yes, the mushroom risotto, "
        "please.\nWaiter: Anything to drink?\nCustomer: Just water, thanks.",
    ),
    (
        "Write a short poem about the moon with no punctuation.",
        "silver lantern of the night\nyou walk the sky in silent light\nthe tides lean toward "
        "your quiet face\nand dreams drift up to meet your grace",
    ),
    (
        "Suggest five names for a coffee shop.",
        "1. The Daily Grind\n2. Bean There\n3. Brew Haven\n4. Morning Ritual\n5. Steam & Stone",
    ),
    (
        "Write a tweet announcing a new bakery.",
        "Fresh bread and warm croissants 🥐 Our doors open Saturday at 8am on Main Street. "
        "#NewBakery",
    ),
    (
        "Explain recursion with a Python example.",
        "Recursion is when a function calls itself on a smaller problem until a base case.\n\n"
        "```python\ndef countdown(n):\n    if n == 0:\n        return\n    countdown(n - 1)\n```"
        "\n\nCalling `countdown(3)` recurses three times.",
    ),
    (
        "Give me the steps to reset a router.",
        "1. Find the reset hole on the back\n2. Hold it with a paperclip for 10 seconds\n"
        "3. Wait for the lights to blink\n4. Log in with the default credentials",
    ),
    (
        "Thank my teacher in a short note.",
        "Dear Ms. Rivera,\n\nThank you for your patience this year.\n\nWith gratitude,\nSam",
    ),
    ("What's the time complexity of merge sort?", "O(n log n) in every case."),
    (
        "Write a bash command that finds .log files over 10 MB.",
        '```bash\nfind . -name "*.log" -size +10M\n```',
    ),
]


@pytest.mark.parametrize("instruction,response", MORE_GOOD)
def test_more_good_pairs_pass(instruction, response):
    assert names(instruction, response) == set()


# --------------------------------------------------------------------------- the dev set's rules


def test_mechanical_corruptions_of_other_answers_are_caught():
    """The dev set's own corruption rules, applied to this file's good answers (other topics
    and shapes than the dev set): truncations and loops must mostly be caught."""
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks" / "data"))
    try:
        import build_dev_set as dev
    finally:
        sys.path.pop(0)
    pairs = [p for p in NOT_TRUNCATED + MORE_GOOD + FORMAT_GOOD if len(p[1]) > 60]
    caught = {"truncated": [0, 0], "repetition": [0, 0]}
    for i, (instr, resp) in enumerate(pairs * 2):
        for kind, make in (("truncated", dev.make_truncated), ("repetition", dev.make_repetition)):
            try:
                bad, _how = make(resp, i)
            except dev.BuildError:
                continue
            caught[kind][1] += 1
            caught[kind][0] += bool(run_checks(instr, "", bad))
    for kind, (hit, total) in caught.items():
        assert total >= 20 and hit >= 0.85 * total, (kind, hit, total)


# ---------------------------------------------------------------- what small generators write
# (measured on both labeled sets: benchmarks/task_checks.py, docs/review.md)

TASK_BAD = [
    ("Write one new request of the same kind as the examples.", "Here is one.", "prompt_leak"),
    ("Explain photosynthesis, self-contained and answerable.", "Plants make sugar.", "prompt_leak"),
    ("Summarize the examples above in two lines.", "They are about cooking.", "prompt_leak"),
    ("Your current task is already complete.", "Great, thanks for letting me know.",
     "task_about_itself"),
    ("This is a new request about history.", "History is the study of the past.",
     "task_about_itself"),
    ("Explain how vaccines train the immune system.",
     "Sure! Could you please provide more details about what you need?", "deflection"),
    ("Give three tips for saving money.", "What would you like to know exactly?", "deflection"),
    ("What is the chemical formula for table salt?", "The chemical formula for table salt "
     "is table salt.", "restates_task"),
    ("TIP: Start a garden with friends on a small budget.", "Gardening is a great hobby.",
     "not_a_request"),
    ("The museum was quiet when the storm began.", "It was a dark night.", "not_a_request"),
    ("Rewrite this sentence to be more formal.", "The meeting is at noon.", "missing_input"),
    ("Which of the following animals is a mammal?", "The dolphin.", "missing_input"),
    ("Explain how a refrigerator keeps food cold.", "It uses cold air.", "too_short"),
    ("Write a Python function that checks if a number is prime.", "Use a loop.", "too_short"),
]  # fmt: skip

TASK_GOOD = [
    ("What is the chemical formula for table salt?", "NaCl (sodium chloride)."),
    ("Which is heavier, a kilogram of feathers or a kilogram of iron?",
     "Neither: both weigh one kilogram."),
    ("Who is older, Ann (34) or Ben (29)? Answer with the name.", "Ann"),
    ("Write a short message asking your landlord to fix the heating.",
     "Hi Mr. Lee, could you please send someone to fix the heating this week? Thanks, Sam"),
    ("List the primary colors of light.", "- red\n- green\n- blue"),
    ("Write an example sentence that uses the word 'keyword'.",
     "Type a keyword into the search box to find the article."),
    ("Your task is to sort these numbers in ascending order: 5, 2, 9.", "2, 5, 9"),
    ("The task is to name the largest planet in the solar system.", "Jupiter."),
    ("How to calculate probability", "Divide the favourable outcomes by all possible "
     "outcomes: a 3 on a die is 1/6."),
    ("Balance this chemical equation: H2 + O2 -> H2O", "2H2 + O2 -> 2H2O"),
    ("Rewrite this sentence to be more formal: 'gonna be late, sorry'",
     "I apologise; I will be arriving late."),
    ("Explain in one sentence why the sky is blue.", "Air scatters blue light most."),
    ("I need a name for my bakery.", "Rise & Shine Bakery"),
]  # fmt: skip


@pytest.mark.parametrize("instruction,response,check", TASK_BAD)
def test_task_checks_catch_what_small_generators_write(instruction, response, check):
    assert check in names(instruction, response)


@pytest.mark.parametrize("instruction,response", TASK_GOOD)
def test_task_checks_pass_real_tasks_and_answers(instruction, response):
    assert names(instruction, response) == set()


def test_task_checks_can_be_turned_off_by_name():
    i, r, check = TASK_BAD[0]
    off = CheckSettings(disabled=frozenset({check}))
    assert check not in {x.name for x in run_checks(i, "", r, settings=off)}


ARITHMETIC_BAD = [
    "The price rose by 92 - 80 = 22 dollars.",
    "Each side is \\( 17.5 \\times 0.18 = 3.43 \\) cm.",
    "Total: 120 + 135 + 150 = 395 pages.",
    "So 6 x 7 = 48.",
]
ARITHMETIC_GOOD = [
    "The price rose by 92 - 80 = 12 dollars, so 12 / 80 = 0.15, a 15% increase.",
    "Area = 3.14 * 5 * 5 = 78.5 square cm.",  # rounded pi: within 1%
    "126 / 84 = 1 remainder 42, then 84 / 42 = 2 remainder 0, so the GCD is 42.",
    "Solve 2x + 3 = 11: subtract 3, so 2x = 8 and x = 4.",
    "1 + 1 = 2 + 0 = 2",
    "Use 1,000 * 1.05 = 1,050 after one year.",
]


@pytest.mark.parametrize("response", ARITHMETIC_BAD)
def test_arithmetic_catches_equations_that_do_not_add_up(response):
    assert "arithmetic" in names("Work it out.", response)


@pytest.mark.parametrize("response", ARITHMETIC_GOOD)
def test_arithmetic_passes_right_rounded_and_non_numeric_equations(response):
    assert "arithmetic" not in names("Work it out.", response)


CODE_GOOD = "```python\ndef add(a, b):\n    return a + b\n\nassert add(2, 3) == 5\n```"
CODE_BAD = "```python\ndef add(a, b):\n    return a - b\n\nassert add(2, 3) == 5\n```"


def test_code_runs_flags_code_whose_own_asserts_fail():
    task = "Write a Python function that adds two numbers."
    assert "code_runs" in names(task, CODE_BAD)
    assert "code_runs" not in names(task, CODE_GOOD)


@pytest.mark.parametrize(
    "code",
    [
        "import os\nos.remove('/etc/hostname')",  # refused by the sandbox: not judged
        "import socket\nsocket.create_connection(('example.com', 80))",
        "import not_a_real_package_xyz",
        "name = input()",
        "result = [w.upper() for w in words]",  # a snippet over the task's variables
        "open('notes.txt', 'w').write('ok')\nassert open('notes.txt').read() == 'ok'",
    ],
)
def test_code_runs_leaves_what_it_cannot_judge(code):
    task = "Write Python code for this."
    assert "code_runs" not in names(task, f"```python\n{code}\n```")


def test_code_runs_sandbox_refuses_writes_outside_its_directory(tmp_path):
    from gra.checks.code_run import run_python

    target = tmp_path / "outside.txt"
    outcome, detail = run_python(f"open({str(target)!r}, 'w').write('x')")
    assert (outcome, detail) == ("unjudged", "SandboxRefused")
    assert not target.exists()
    assert run_python("assert 1 + 1 == 3") == ("error", "AssertionError")


def test_run_tests_reports_each_assert_and_leaves_broken_code_unjudged():
    from gra.checks.code_run import run_tests

    code = "def add(a, b):\n    return a + b"
    asserts = ["assert add(2, 3) == 6", "assert add(2, 3) == 5", "assert add(1) == 1"]
    assert run_tests(code, asserts) == ["fail", "pass", "error: TypeError"]
    # the answer's own code fails before any assert: nothing is judged
    assert run_tests(code + "\nraise ValueError('x')", asserts[:1])[0].startswith("unjudged")
    # an assert that prints the marker cannot forge results
    assert run_tests(code, ["assert print('@@gra-tests@@[]') or add(1, 1) == 3"]) == ["fail"]


def test_write_tests_keeps_asserts_on_the_answers_functions():
    from gra.council.steps import write_tests

    code = "import math\n\ndef area(r):\n    return math.pi * r * r\n\ndef _h():\n    pass\n"
    assert write_tests.defined_functions(code) == ["area"]
    assert write_tests.defined_functions("def broken(:\n") == []
    reply = (
        "```python\nassert area(1) == math.pi\nassert area(0) == 0\nassert area(0) == 0\n"
        "assert len([1]) == 1\nassert area(2 ==\nprint(area(1))\nassert area(3) > 28\n"
        "assert area(4) > 50\n```"
    )
    # duplicates, asserts that call none of the names, unparsable lines and non-asserts
    # are dropped; at most COUNT kept
    assert write_tests.parse(reply, ["area"]) == [
        "assert area(1) == math.pi",
        "assert area(0) == 0",
        "assert area(3) > 28",
    ]
    task = "Write a Python function that returns the area of a circle."
    assert write_tests.testable_code(task, "", f"```python\n{code}```") == (code.strip(), ["area"])
    assert write_tests.testable_code(task, "", "The area is pi r squared.") == ("", [])


def test_code_tester_rejects_code_its_asserts_fail(tmp_path):
    from gra.config import load_config
    from gra.curate.review import review_samples
    from gra.io.datasets import Sample
    from tests.fakes import FakeLoader

    task = "Write a Python function add(a, b) that adds two numbers."
    plain = lambda body: f"```python\ndef add(a, b):\n    return {body}\n```"  # noqa: E731
    samples = [Sample("good", task, plain("a + b")), Sample("bad", task, plain("a - b"))]
    data = {"review": {"stages": ["council"], "code_tester": "qwen2.5-coder-0.5b"}}
    cfg = load_config(data=data)
    judged = review_samples(samples, cfg, tmp_path / "calls.sqlite", loader=FakeLoader())
    assert judged[0].verdict == "accept"
    assert judged[1].verdict == "reject"
    assert judged[1].reasons == ["code tests: 1 of 2 failed: assert add(2, 3) == 5"]
    assert "tests" in judged[1].candidate.calls and judged[1].tokens() > 0
