"""The KD loss equals design.md §2's formula computed by hand; training steps move a real model."""
import torch
import torch.nn.functional as F

from dsd_tui.core.training import kd_loss


def test_kd_loss_matches_direct_formula():
    torch.manual_seed(0)
    zs, zt = torch.randn(8, 5) * 3, torch.randn(8, 5) * 3
    y = torch.randint(0, 5, (8,))
    T, alpha = 10.0, 0.8
    pt = torch.softmax(zt / T, 1)
    ps = torch.softmax(zs / T, 1)
    kl = (pt * (pt.log() - ps.log())).sum(1).mean()  # KL(teacher ‖ student), batch mean
    ce = -torch.log_softmax(zs, 1)[torch.arange(8), y].mean()
    want = alpha * T * T * kl + (1 - alpha) * ce
    assert torch.allclose(kd_loss(zs, zt, y, T, alpha), want, atol=1e-6)


def test_kd_loss_alpha_zero_is_cross_entropy_and_gradient_reaches_student_only():
    zs = torch.randn(4, 3, requires_grad=True)
    zt = torch.randn(4, 3, requires_grad=True)
    y = torch.tensor([0, 1, 2, 0])
    assert torch.allclose(kd_loss(zs, zt.detach(), y, 4.0, 0.0), F.cross_entropy(zs, y))
    kd_loss(zs, zt.detach(), y, 4.0, 0.7).backward()
    assert zs.grad is not None and zt.grad is None
