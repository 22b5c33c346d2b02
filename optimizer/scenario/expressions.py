"""The small, safe expression language of scenario files: ``ltv * 0.2``, ``segment in ['VIP', 'Loyal']``.

The text is parsed with :func:`ast.parse` and every node is checked against a whitelist; user text is
never given to ``eval``. Evaluation is vectorised over columns, one array element per customer:
scalars broadcast, arithmetic gives float64, comparisons and and/or/not give bool. Dates compare by
day with dates and with days written 'YYYY-MM-DD' (optimizer/scenario/dates.py).
"""

from __future__ import annotations

import ast
import datetime as dt
import functools
import operator
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, cast

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from optimizer.errors import ExpressionError, did_you_mean
from optimizer.scenario.dates import all_days, compare_dates, day_text, days_since

HINT = 'Write arithmetic, comparisons, and/or/not over column names, numbers and quoted strings, e.g. "ltv * 0.2"'
BOOLEAN_NAMES = {"true": True, "false": False}
SYMBOLS = {
    ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.Pow: "**", ast.Mod: "%", ast.FloorDiv: "//",
    ast.MatMult: "@", ast.LShift: "<<", ast.RShift: ">>", ast.BitOr: "|", ast.BitXor: "^", ast.BitAnd: "&",
    ast.USub: "-", ast.UAdd: "+", ast.Not: "not", ast.Invert: "~", ast.And: "and", ast.Or: "or",
    ast.Eq: "==", ast.NotEq: "!=", ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">=",
    ast.In: "in", ast.NotIn: "not in", ast.Is: "is", ast.IsNot: "is not",
}  # fmt: skip
ARITHMETIC: dict[type[ast.operator], Callable[[NDArray[np.float64], NDArray[np.float64]], NDArray[np.float64]]] = {
    ast.Add: np.add, ast.Sub: np.subtract, ast.Mult: np.multiply, ast.Div: np.true_divide,
    ast.Pow: np.power, ast.Mod: np.mod}  # fmt: skip
COMPARISONS = {ast.Eq: operator.eq, ast.NotEq: operator.ne, ast.Lt: operator.lt, ast.LtE: operator.le,
               ast.Gt: operator.gt, ast.GtE: operator.ge, ast.In: operator.eq, ast.NotIn: operator.eq}  # fmt: skip
ALLOWED_OPERATORS = "Allowed operators: + - * / ** %, == != < <= > >=, in [...], not in [...], and, or, not"


def _round(value: NDArray[np.float64], digits: NDArray[np.float64] | int = 0) -> NDArray[np.float64]:
    """round(value[, digits]) of an expression (digits a whole number, checked when parsed)."""
    return np.round(value, int(digits))


FUNCTIONS: dict[str, tuple[int, int, Callable[..., NDArray[Any]]]] = {
    "abs": (1, 1, np.abs),
    "clip": (3, 3, np.clip),
    "exp": (1, 1, np.exp),
    "log": (1, 1, np.log),
    "max": (2, 99, lambda *values: functools.reduce(np.maximum, values)),
    "min": (2, 99, lambda *values: functools.reduce(np.minimum, values)),
    "round": (1, 2, _round),
    "sqrt": (1, 1, np.sqrt),
}
ARITIES = {**{name: (low, high) for name, (low, high, _) in FUNCTIONS.items()}, "days_since": (1, 1)}
ALLOWED_FUNCTIONS = f"Allowed functions: {', '.join(sorted(ARITIES))}"
NODE_WORDS = {
    ast.Attribute: "attribute access", ast.Subscript: "indexing", ast.Lambda: "a lambda",
    ast.ListComp: "a comprehension", ast.SetComp: "a comprehension", ast.DictComp: "a comprehension",
    ast.GeneratorExp: "a comprehension", ast.NamedExpr: "the assignment ':='", ast.JoinedStr: "an f-string",
    ast.Starred: "unpacking", ast.Dict: "a dict", ast.Set: "a set", ast.List: "a list outside 'in [...]'",
    ast.Tuple: "a tuple outside 'in (...)'", ast.Slice: "a slice",
}  # fmt: skip
Operand = tuple[ast.expr, NDArray[Any]]  # a node of the tree and its value (numbers, true/false, text or dates)
KINDS = {"b": "true/false", "i": "numbers", "u": "numbers", "f": "numbers", "O": "text", "U": "text", "S": "text",
         "M": "dates"}


@dataclass(frozen=True)
class Expression:
    """A checked expression: its text, where it was written, and the columns it reads.

    >>> sorted(parse("days_since_last_purchase > 60 and email_opt_in", where="demo").names)
    ['days_since_last_purchase', 'email_opt_in']
    """

    text: str
    names: frozenset[str]
    where: str
    tree: ast.expr = field(repr=False, compare=False)

    def evaluate(self, columns: Mapping[str, NDArray[Any] | float | int | str | bool], size: int,
                 run_date: dt.date | None = None) -> NDArray[Any]:
        """Evaluate over `size` rows; scalars broadcast; a constant expression returns np.full(size, value).
        ``run_date``: the day days_since() counts to (None: days_since is refused).

        >>> parse("min(ltv, 500) * 0.1", where="demo").evaluate({"ltv": np.array([100, 900])}, size=2)
        array([10., 50.])
        >>> parse("0.3 if segment == 'VIP' else 0.1", where="demo").evaluate({"segment": "VIP"}, size=2)
        array([0.3, 0.3])
        """
        self.check_names(columns, self.where)
        try:
            with np.errstate(all="ignore"):
                result = np.asarray(_Evaluator(self, columns, size, run_date)(self.tree))
        except RecursionError:
            raise self._error("is too deeply nested to evaluate", "Split it into simpler expressions") from None
        except (TypeError, ValueError) as exc:
            raise self._error(f"cannot be computed: {exc}", "Check the types of the columns it uses") from exc
        return np.full(size, result, dtype=np.float64 if result.dtype.kind in "iu" else result.dtype)

    def check_names(self, available: Iterable[str], where: str) -> None:
        """Raise ExpressionError if a referenced name is not available, with a did-you-mean suggestion."""
        available = sorted(available)
        unknown = sorted(self.names - set(available))
        if not unknown:
            return
        problem = f"names an unknown column '{unknown[0]}'"
        if len(unknown) > 1:
            problem = f"names unknown columns {', '.join(repr(name) for name in unknown)}"
        shown = ", ".join(available[:12]) + (f" and {len(available) - 12} more" if len(available) > 12 else "")
        fix = " ".join(filter(None, [did_you_mean(unknown[0], available), f"Available columns: {shown or 'none'}"]))
        raise ExpressionError(f"The expression '{_shown(self.text)}' {problem}", where=where, fix=fix)

    def _error(self, problem: str, fix: str = HINT) -> ExpressionError:
        """An error about this expression: "The expression '<text>' <problem> (<where>). <fix>", a
        text longer than SHOWN characters cut in the middle."""
        return ExpressionError(f"The expression '{_shown(self.text)}' {problem}", where=self.where, fix=fix)

    def _segment(self, node: ast.AST) -> str:
        """The source text of one node of this expression."""
        return ast.get_source_segment(_clean(self.text), node) or ast.unparse(node)


def parse(source: str | int | float | bool, where: str) -> Expression:
    """Parse and check an expression; numbers and booleans from YAML are accepted as constants.

    >>> parse(0.2, where="demo").evaluate({}, size=3)
    array([0.2, 0.2, 0.2])
    >>> parse("segment in ['VIP', 'Loyal']", where="demo").names
    frozenset({'segment'})
    """
    if isinstance(source, int | float | np.bool_ | np.number):
        return Expression(str(source), frozenset(), where, ast.Constant(source))
    if not isinstance(source, str) or not source.strip():
        found = "it is empty" if isinstance(source, str) else f"it is a {type(source).__name__}, not text"
        raise _syntax_error(str(source), where, found)
    try:
        tree = ast.parse(_clean(source), mode="eval").body
        checker = _Checker(Expression(source, frozenset(), where, tree))
        checker.check(tree)
    except SyntaxError as exc:
        raise _syntax_error(source, where, _describe(exc, _clean(source))) from None
    except (RecursionError, MemoryError, ValueError):
        raise _syntax_error(source, where, "it is too long or too deeply nested") from None
    return Expression(source, frozenset(checker.names), where, tree)


def _clean(text: str) -> str:
    """The text as parsed: one line (YAML block scalars may fold it), no surrounding blanks."""
    return text.replace("\r", " ").replace("\n", " ").strip()


def _syntax_error(text: str, where: str, reason: str) -> ExpressionError:
    """The error for text that is not an expression at all, naming its key ('campaigns[0].eligible')
    when ``where`` ends with one (a --set names no key there: its value, commas and all, does)."""
    last = where.rsplit(", ", 1)[-1]
    key = f" in {last}" if ", " in where and re.fullmatch(_KEY, last) else ""
    return ExpressionError(f"The expression '{_shown(text)}'{key} is not valid: {reason}", where=where, fix=HINT)


_KEY = r"[A-Za-z_]\w*(?:\[\d+\])?(?:\.[A-Za-z_]\w*(?:\[\d+\])?)*"  # a scenario key, e.g. campaigns[0].eligible
SHOWN = 200  # characters of an expression an error message shows at most


def _shown(text: str) -> str:
    """``text`` as an error shows it: whole up to SHOWN characters, else its start and end."""
    if len(text) <= SHOWN:
        return text
    return f"{text[:SHOWN // 2]} … {text[-SHOWN // 2:]} ({len(text):,} characters)"


def _describe(exc: SyntaxError, text: str) -> str:
    """Python's syntax error in words for scenario authors, e.g. 'unexpected end of expression'."""
    if not exc.offset or exc.offset > len(text) or (exc.lineno or 1) > 1:
        return "unexpected end of expression"
    return f"{exc.msg.split(' (detected')[0]} at character {exc.offset}"


MISSING_FLAGS = "true/false with missing values"  # a flag column with gaps, read as objects
MISSING_ONLY = "only missing values"  # a column with no value at all, read as objects


def _kind(value: NDArray[Any]) -> str:
    """What a value holds, in words: 'numbers', 'true/false', 'text', MISSING_FLAGS or MISSING_ONLY."""
    value = np.asarray(value)
    if value.dtype.kind == "O" and value.size and all(_missing(item) for item in value.flat):
        return MISSING_ONLY
    if value.dtype.kind == "M" and value.size and np.isnat(value).all():
        return MISSING_ONLY
    if value.dtype.kind == "O" and value.size and all(isinstance(item, bool | np.bool_) or _missing(item)
                                                      for item in value.flat):
        return MISSING_FLAGS
    return KINDS.get(value.dtype.kind, "other values")


def _missing(item: object) -> bool:
    """None, NaN or pandas' NA (whose comparisons give NA, not a bool)."""
    return item is None or type(item).__name__ == "NAType" or (isinstance(item, float) and item != item)


def _is_literal(node: ast.AST) -> bool:
    """Whether `node` is a literal such as 'VIP', 3 or -1.5."""
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
        node = node.operand
    return isinstance(node, ast.Constant)


@dataclass
class _Checker:
    """Walks a parsed tree, rejecting anything off the whitelist and collecting column names."""

    expression: Expression
    names: set[str] = field(default_factory=set)

    def check(self, node: ast.AST) -> None:
        """Check `node` and its sub-expressions, in order, with a stack of those still to check (a
        long sum nests as deep as it has terms); each `_<Node>` method returns the children."""
        waiting = [node]
        while waiting:
            node = waiting.pop()
            method = getattr(self, f"_{type(node).__name__}", None)
            if method is None:
                word = NODE_WORDS.get(type(node), "the construct")
                raise self.expression._error(f"uses {word} '{self.expression._segment(node)}', which is not allowed")
            waiting.extend(reversed(method(node)))

    def operator(self, node: ast.AST, op: ast.AST, allowed: Iterable[type]) -> None:
        """Reject an operator that is not in `allowed`, e.g. '//' or 'is'."""
        if type(op) not in allowed:
            used = f"the operator '{SYMBOLS[type(op)]}' in '{self.expression._segment(node)}'"
            raise self.expression._error(f"uses {used}, which is not allowed", ALLOWED_OPERATORS)

    def _Constant(self, node: ast.Constant) -> list[ast.expr]:
        if type(node.value) not in (int, float, str, bool):
            raise self.expression._error(f"uses the value {node.value!r}, which is not allowed")
        return []

    def _Name(self, node: ast.Name) -> list[ast.expr]:
        self.names.update({node.id} - BOOLEAN_NAMES.keys())
        return []

    def _BinOp(self, node: ast.BinOp) -> list[ast.expr]:
        self.operator(node, node.op, ARITHMETIC)
        return [node.left, node.right]

    def _UnaryOp(self, node: ast.UnaryOp) -> list[ast.expr]:
        self.operator(node, node.op, (ast.USub, ast.UAdd, ast.Not))
        return [node.operand]

    def _BoolOp(self, node: ast.BoolOp) -> list[ast.expr]:
        return node.values

    def _IfExp(self, node: ast.IfExp) -> list[ast.expr]:
        return [node.test, node.body, node.orelse]

    def _Compare(self, node: ast.Compare) -> list[ast.expr]:
        for op in node.ops:
            self.operator(node, op, COMPARISONS)
        if not any(isinstance(op, ast.In | ast.NotIn) for op in node.ops):
            return [node.left, *node.comparators]
        choices = node.comparators[-1]
        if len(node.ops) > 1 or not (isinstance(choices, ast.List | ast.Tuple) and all(map(_is_literal, choices.elts))):
            fix = "Write e.g. \"segment in ['VIP', 'Loyal']\"; combine it with other comparisons using 'and'"
            raise self.expression._error("needs a list of numbers or quoted strings after 'in'", fix)
        return [node.left, *choices.elts]

    def _Call(self, node: ast.Call) -> list[ast.expr]:
        name = node.func.id if isinstance(node.func, ast.Name) else self.expression._segment(node.func)
        if name not in ARITIES:
            fix = " ".join(filter(None, [did_you_mean(name, ARITIES), ALLOWED_FUNCTIONS]))
            raise self.expression._error(f"uses '{name}(...)', which is not allowed", fix)
        low, high = ARITIES[name]
        if node.keywords or not low <= len(node.args) <= high:
            takes = f"{low}" if low == high else f"{low} or more" if high == 99 else f"{low} or {high}"
            fix = f"Give {name}() {takes} argument{'s' if high > 1 else ''}, by position, not by name"
            raise self.expression._error(f"calls {name}() with {len(node.args) + len(node.keywords)} argument(s)", fix)
        digits = node.args[1:] if name == "round" else []
        if digits and not (isinstance(digits[0], ast.Constant) and type(digits[0].value) is int):
            raise self.expression._error("rounds to digits that are not a whole number", "Write e.g. round(ltv, 2)")
        return node.args


@dataclass(frozen=True)
class _Evaluator:
    """Computes a checked tree over numpy columns; each `_<Node>` method handles one node type."""

    expression: Expression
    columns: Mapping[str, object]
    size: int
    run_date: dt.date | None = None

    def __call__(self, node: ast.AST) -> NDArray[Any]:
        value: NDArray[Any] = getattr(self, f"_{type(node).__name__}")(node)
        return value

    def numbers(self, operand: ast.AST, symbol: str) -> NDArray[np.float64]:
        """`operand` as float64, or an error naming it when it holds text."""
        value = self(operand)
        kind = _kind(value)
        if kind not in ("numbers", "true/false"):
            seg = self.expression._segment(operand)
            fix = f"Arithmetic needs numeric columns; compare text with == or in, e.g. \"{seg} == 'VIP'\""
            if kind == "dates":
                fix = (f"Dates are not numbers: compare them with a day, e.g. \"{seg} < '2026-10-01'\", or count "
                       f"days with days_since({seg}), which gives the days from it to the run date")
            raise self.expression._error(f"applies '{symbol}' to '{seg}', which holds {kind}, not numbers", fix)
        return value.astype(np.float64)

    def booleans(self, operand: ast.AST, symbol: str) -> NDArray[np.bool_]:
        """`operand` as bool, or an error naming it when it holds numbers or text."""
        value = self(operand)
        kind = _kind(value)
        if kind != "true/false":
            seg = self.expression._segment(operand)
            if kind == MISSING_FLAGS:
                raise self.expression._error(
                    f"applies '{symbol}' to '{seg}', which holds {MISSING_FLAGS}",
                    f"Fill the gaps in the table (with false or true), or say what a gap means, e.g. \"{seg} == True\" "
                    "(a gap is then false)")
            example = {"numbers": f"{seg} > 0", "dates": f"{seg} < '2026-10-01'"}.get(kind, f"{seg} == 'VIP'")
            fix = f"Turn '{seg}' into true/false with a comparison, e.g. \"{example}\""
            problem = f"applies '{symbol}' to '{seg}', which holds {kind}, not true/false"
            raise self.expression._error(problem, fix)
        return value

    def _Constant(self, node: ast.Constant) -> NDArray[Any]:
        return np.asarray(node.value)

    def _Name(self, node: ast.Name) -> NDArray[Any]:
        value = np.asarray(BOOLEAN_NAMES[node.id] if node.id in BOOLEAN_NAMES else self.columns[node.id])
        if value.ndim and value.shape != (self.size,):
            raise self.expression._error(f"reads column '{node.id}' of shape {value.shape}, not ({self.size},)")
        return value

    def _BinOp(self, node: ast.BinOp) -> NDArray[np.float64]:
        """A chain of operations left to right, in a loop: ``a + b + ... + z`` nests to the left, and
        a frame per link hit Python's recursion limit at about 250 terms."""
        chain = [node]
        while isinstance(chain[-1].left, ast.BinOp):
            chain.append(chain[-1].left)
        value = self.numbers(chain[-1].left, SYMBOLS[type(chain[-1].op)])
        for link in reversed(chain):
            value = ARITHMETIC[type(link.op)](value, self.numbers(link.right, SYMBOLS[type(link.op)]))
        return value

    def _UnaryOp(self, node: ast.UnaryOp) -> NDArray[Any]:
        if isinstance(node.op, ast.Not):
            return np.logical_not(self.booleans(node.operand, "not"))
        value = self.numbers(node.operand, SYMBOLS[type(node.op)])
        return -value if isinstance(node.op, ast.USub) else value

    def _BoolOp(self, node: ast.BoolOp) -> NDArray[np.bool_]:
        combine = np.logical_and if isinstance(node.op, ast.And) else np.logical_or
        return functools.reduce(combine, [self.booleans(value, SYMBOLS[type(node.op)]) for value in node.values])

    def _IfExp(self, node: ast.IfExp) -> NDArray[Any]:
        body, orelse = self(node.body), self(node.orelse)
        if (np.asarray(body).dtype.kind == "M") != (np.asarray(orelse).dtype.kind == "M"):
            body, orelse = day_text(body), day_text(orelse)  # days beside text: the days as text, YYYY-MM-DD
        return np.where(self.booleans(node.test, "if"), body, orelse)

    def _Call(self, node: ast.Call) -> NDArray[Any]:
        name = cast(ast.Name, node.func).id  # the checker lets only named functions through
        if name == "days_since":
            value = self(node.args[0])
            return days_since(self.expression, (node.args[0], value), _kind(value), self.run_date)
        return np.asarray(FUNCTIONS[name][2](*(self.numbers(arg, f"{name}(...)") for arg in node.args)))

    def _Compare(self, node: ast.Compare) -> NDArray[np.bool_]:
        if isinstance(node.ops[0], ast.In | ast.NotIn):
            left = (node.left, self(node.left))
            choices = cast(ast.List | ast.Tuple, node.comparators[0]).elts  # the checker allows only a literal list
            matches = [self.compare(operator.eq, left, (choice, self(choice))) for choice in choices]
            found = functools.reduce(np.logical_or, matches, np.asarray(False))
            if not isinstance(node.ops[0], ast.NotIn):
                return found
            missing = np.isnat(left[1]) if np.asarray(left[1]).dtype.kind == "M" else np.asarray(False)
            outside: NDArray[np.bool_] = np.logical_not(found) & ~missing  # a missing date: in no list, out of none
            return outside
        operands = [(operand, self(operand)) for operand in [node.left, *node.comparators]]
        pairs = zip(node.ops, operands, operands[1:])
        return functools.reduce(np.logical_and, [self.compare(COMPARISONS[type(op)], a, b) for op, a, b in pairs])

    def compare(self, test: Callable[[Any, Any], Any], left: Operand, right: Operand) -> NDArray[np.bool_]:
        """One comparison of two (node, value) operands that must both hold text or both not."""
        (left_node, left_value), (right_node, right_value) = left, right
        kinds = (_kind(left_value), _kind(right_value))
        for (node, _), kind in zip((left, right), kinds):  # a gap equals nothing, text or number: == and != hold
            if kind == MISSING_ONLY and test not in (operator.eq, operator.ne):
                seg = self.expression._segment(node)
                raise self.expression._error(f"compares '{seg}', which holds {MISSING_ONLY}",
                                             f"Fill '{seg}' in the table, or leave it out of the expression")
        dated = any(np.asarray(value).dtype.kind == "M" for value in (left_value, right_value))  # gaps only, too
        if dated or "dates" in kinds or (kinds == ("text", "text") and test in ORDERINGS
                                         and all_days(left_value, right_value)):
            return compare_dates(self.expression, test, left, right, kinds)
        if MISSING_ONLY not in kinds and (kinds[0] == "text") != (kinds[1] == "text"):
            problem = f"compares '{self.expression._segment(left_node)}' ({kinds[0]}) with "
            problem += f"'{self.expression._segment(right_node)}' ({kinds[1]})"
            raise self.expression._error(problem, _numbers_as_text(left, right)
                                         or "Compare text with quoted strings and numbers with numbers")
        if kinds == ("text", "text") and test in ORDERINGS:
            problem = (f"orders '{self.expression._segment(left_node)}' and '{self.expression._segment(right_node)}', "
                       "which hold text: text is ordered letter by letter ('9' after '100')")
            raise self.expression._error(problem, _numbers_as_text(left, right) or "Compare text with == or in [...]; "
                                         "order numbers, or dates written YYYY-MM-DD")
        return np.asarray(test(left_value, right_value), dtype=bool)


ORDERINGS = (operator.lt, operator.le, operator.gt, operator.ge)
_NUMBER_TEXT = r"\s*[-+]?[$€£]?\s*\d[\d,.\s]*\s*[$€£%]?\s*"


def _numbers_as_text(*operands: tuple[ast.AST, NDArray[Any]]) -> str:
    """The fix for a column of numbers stored as text ('1,234.50', '€12'), or '' when no operand is one."""
    for _, value in operands:
        array = np.asarray(value)
        if _kind(array) != "text" or not array.ndim:  # a quoted number in the expression is the user's to write
            continue
        text = pd.Series(array.ravel()[:1000], dtype=object).dropna().astype(str)
        if len(text) and text.str.fullmatch(_NUMBER_TEXT).all():
            return (f"The column holds numbers written as text (e.g. {text.iat[0]!r}): write them as plain numbers in "
                    "the table (no thousands separators or currency signs), then compare with numbers")
    return ""
