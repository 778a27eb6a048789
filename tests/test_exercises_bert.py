import torch

from helpers.exercises import bert


def test_solutions_pass(load_solution):
    solution = load_solution("02_bert_from_scratch")
    assert bert.check_attention(solution.attention)
    assert bert.check_parameter_count(solution.parameter_count)
    assert bert.check_choose_positions(solution.choose_positions)


def test_wrong_and_missing_answers_fail(capsys):
    def unmasked(q, k, v, mask):
        return (q @ k.transpose(-1, -2) / q.shape[-1] ** 0.5).softmax(-1) @ v

    assert not bert.check_attention(unmasked)
    assert "padded keys" in capsys.readouterr().out
    assert not bert.check_attention(lambda q, k, v, mask: None)
    assert "Not answered yet" in capsys.readouterr().out
    assert not bert.check_parameter_count(lambda config: config.vocab_size * config.hidden_size)
    assert not bert.check_choose_positions(lambda special, generator: torch.ones_like(special))
