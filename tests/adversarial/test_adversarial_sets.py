import pandas as pd
import pytest

from pyg_dnnmod.adversarial.runner import adversarial_examples
from pyg_dnnmod.adversarial.sets import attack_summary


def test_attack_summary(trained, digits):
    x, y = digits
    sets = {
        'fgsm 0.1': adversarial_examples(trained, x, y, 'fgsm', eps=0.1,
                                         num_samples=3, progress=False),
        'pgd': adversarial_examples(trained, x, y, 'pgd', num_samples=2,
                                    progress=False),
    }
    df = attack_summary(sets)
    assert isinstance(df, pd.DataFrame)
    assert list(df.columns) == [
        'name', 'attack', 'success_rate', 'num_collected', 'num_attacked',
        'linf_mean', 'linf_max', 'l2_mean', 'l2_max', 'seconds',
        'target_rule', 'note'
    ]
    assert df['name'].tolist() == ['fgsm 0.1', 'pgd']
    assert df['attack'].tolist() == ['fgsm', 'pgd']
    for row, adv in zip(df.itertuples(), sets.values()):
        delta = (adv.x_adv - adv.x_clean).double().flatten(1)
        l2 = delta.pow(2).sum(dim=1).sqrt()
        assert row.num_collected == len(adv)
        assert row.linf_max == pytest.approx(float(delta.abs().max()))
        assert row.linf_mean == pytest.approx(
            float(delta.abs().amax(dim=1).mean()))
        assert row.l2_mean == pytest.approx(float(l2.mean()))
        assert row.l2_max == pytest.approx(float(l2.max()))
        assert row.success_rate == adv.success_rate
        assert row.seconds == adv.seconds
    assert df['linf_max'].iloc[0] == pytest.approx(0.1, abs=1e-6)
    assert list(attack_summary(list(sets.values())).columns)[0] == 'attack'
    with pytest.raises(TypeError, match='wrap it in a list'):
        attack_summary(sets['pgd'])
