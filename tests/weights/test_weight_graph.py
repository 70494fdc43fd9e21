import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch_geometric.utils import is_undirected, to_dense_adj

from pyg_dnnmod.typing import WITH_TORCHVISION
from pyg_dnnmod.weights import weight_graph


def dense(data) -> torch.Tensor:
    return to_dense_adj(data.edge_index, edge_attr=data.edge_weight,
                        max_num_nodes=data.num_nodes)[0]


def block(adj: torch.Tensor, data, a: int, b: int) -> torch.Tensor:
    r"""The adjacency between the nodes of layers a (rows) and b."""
    rows = (data.layer == a).nonzero().view(-1)
    cols = (data.layer == b).nonzero().view(-1)
    return adj[rows][:, cols]


# Rolled LeNet-5 ##############################################################


def test_lenet_counts(lenet_graph):
    data = lenet_graph
    assert data.num_nodes == 3 + 6 + 16 + 120 + 84 + 10 == 239
    assert data.num_edges == 2 * (18 + 96 + 1920 + 10080 + 840) == 25908
    assert data.layer_names == ['input', 'conv1', 'conv2', 'fc1', 'fc2',
                                'fc3']
    assert torch.bincount(data.layer).tolist() == [3, 6, 16, 120, 84, 10]
    assert data.pos_in_layer[:12].tolist() == [0, 1, 2, 0, 1, 2, 3, 4, 5,
                                               0, 1, 2]
    assert data.layer_shapes[:3] == [(3, 32, 32), (6, 28, 28), (16, 10, 10)]
    assert is_undirected(data.edge_index, data.edge_weight, data.num_nodes)
    assert data.edge_weight.dtype == torch.float32
    # Edges only join consecutive layers.
    layer = data.layer[data.edge_index]
    assert ((layer[0] - layer[1]).abs() == 1).all()


def test_lenet_edge_weights(lenet, lenet_graph):
    adj = dense(lenet_graph)
    conv1 = lenet.conv1.weight.detach()
    conv2 = lenet.conv2.weight.detach()
    expected = {
        (1, 0): torch.linalg.vector_norm(conv1, dim=(2, 3)),
        (2, 1): torch.linalg.vector_norm(conv2, dim=(2, 3)),
        # The first linear layer is rolled over the 5 x 5 positions.
        (3, 2): torch.linalg.vector_norm(
            lenet.fc1.weight.detach().view(120, 16, 25), dim=2),
        (4, 3): lenet.fc2.weight.detach().abs(),
        (5, 4): lenet.fc3.weight.detach().abs(),
    }
    for (a, b), value in expected.items():
        torch.testing.assert_close(block(adj, lenet_graph, a, b), value,
                                   rtol=1e-6, atol=0)
        torch.testing.assert_close(block(adj, lenet_graph, b, a), value.t(),
                                   rtol=1e-6, atol=0)
    # One hand-picked entry, straight from its definition.
    w = conv2[7, 4]
    node_out, node_in = 3 + 6 + 7, 3 + 4
    assert abs(float(adj[node_out, node_in]) -
               float((w.double()**2).sum().sqrt())) < 1e-6


def test_lenet_signed(lenet):
    data = weight_graph(lenet, input_shape=(3, 32, 32), signed=True)
    adj = dense(data)
    conv2 = lenet.conv2.weight.detach()
    sign = torch.where(conv2.sum((2, 3)) < 0, -1.0, 1.0)
    torch.testing.assert_close(block(adj, data, 2, 1),
                               sign * conv2.norm(dim=(2, 3)), rtol=1e-6,
                               atol=0)
    fc1 = lenet.fc1.weight.detach().view(120, 16, 25)
    sign = torch.where(fc1.sum(2) < 0, -1.0, 1.0)
    torch.testing.assert_close(block(adj, data, 3, 2),
                               sign * fc1.norm(dim=2), rtol=1e-6, atol=0)
    torch.testing.assert_close(block(adj, data, 4, 3),
                               lenet.fc2.weight.detach(), rtol=1e-6, atol=0)
    assert (data.edge_weight < 0).any()


def test_snapshots_share_edge_index(lenet, lenet_graph):
    lenet.train()
    with torch.no_grad():
        for p in lenet.parameters():
            p.mul_(-2.0)
    before = [p.clone() for p in lenet.parameters()]
    data = weight_graph(lenet, input_shape=(3, 32, 32))
    assert torch.equal(data.edge_index, lenet_graph.edge_index)
    torch.testing.assert_close(data.edge_weight, 2 * lenet_graph.edge_weight)
    assert lenet.training  # mode restored
    assert all(torch.equal(p, q) for p, q in zip(lenet.parameters(), before))


def test_registry_lenet5():
    models = pytest.importorskip('pyg_dnnmod.models')
    if not hasattr(models, 'get_model'):
        pytest.skip('pyg_dnnmod.models.get_model is not available')
    data = weight_graph(models.get_model('lenet5'), input_shape=(3, 32, 32))
    assert data.num_nodes == 239
    assert data.num_edges == 25908


def test_mlp_infers_input_shape():
    model = nn.Sequential(nn.Linear(5, 4), nn.ReLU(), nn.Linear(4, 3))
    data = weight_graph(model)
    assert data.num_nodes == 12
    assert data.num_edges == 2 * (20 + 12)
    assert data.layer_names == ['input', '0', '2']


# Convolutions ################################################################


def test_grouped_and_depthwise_conv():
    torch.manual_seed(1)
    model = nn.Sequential(nn.Conv2d(4, 6, 3, groups=2),
                          nn.Conv2d(6, 6, 3, groups=6))
    data = weight_graph(model, input_shape=(4, 7, 7))
    adj = dense(data)
    grouped = model[0].weight.detach().norm(dim=(2, 3))  # [6, 2]
    expected = torch.zeros(6, 4)
    expected[:3, :2] = grouped[:3]
    expected[3:, 2:] = grouped[3:]
    torch.testing.assert_close(block(adj, data, 1, 0), expected, rtol=1e-6,
                               atol=0)
    depthwise = model[1].weight.detach().norm(dim=(2, 3)).view(6)
    torch.testing.assert_close(block(adj, data, 2, 1), torch.diag(depthwise),
                               rtol=1e-6, atol=0)
    assert data.num_edges == 2 * (12 + 6)


def test_conv1d_rolled():
    torch.manual_seed(2)
    model = nn.Sequential(nn.Conv1d(2, 3, 4), nn.Flatten(), nn.Linear(15, 2))
    data = weight_graph(model, input_shape=(2, 8))
    adj = dense(data)
    torch.testing.assert_close(block(adj, data, 1, 0),
                               model[0].weight.detach().norm(dim=2),
                               rtol=1e-6, atol=0)
    torch.testing.assert_close(
        block(adj, data, 2, 1),
        model[2].weight.detach().view(2, 3, 5).norm(dim=2), rtol=1e-6,
        atol=0)


def test_batch_norm_fold():
    torch.manual_seed(3)
    model = nn.Sequential(nn.Conv2d(2, 3, 3, bias=False), nn.BatchNorm2d(3))
    bn = model[1]
    with torch.no_grad():
        bn.weight.copy_(torch.tensor([2.0, -0.5, 1.0]))
        bn.running_var.copy_(torch.tensor([4.0, 1.0, 0.25]))
        bn.running_mean.copy_(torch.tensor([1.0, 2.0, 3.0]))
    norm = model[0].weight.detach().norm(dim=(2, 3))
    ignored = weight_graph(model, input_shape=(2, 5, 5))
    torch.testing.assert_close(block(dense(ignored), ignored, 1, 0), norm,
                               rtol=1e-6, atol=0)
    folded = weight_graph(model, input_shape=(2, 5, 5), bn='fold')
    factor = torch.tensor([2.0, 0.5, 1.0]) / torch.sqrt(
        torch.tensor([4.0, 1.0, 0.25]) + bn.eps)
    torch.testing.assert_close(block(dense(folded), folded, 1, 0),
                               norm * factor[:, None], rtol=1e-6, atol=0)


@pytest.mark.parametrize('inplace', [False, True])
def test_batch_norm_not_after_conv_warns(inplace):
    model = nn.Sequential(nn.Conv2d(2, 3, 3), nn.ReLU(inplace=inplace),
                          nn.BatchNorm2d(3))
    with pytest.warns(UserWarning, match="BatchNorm '2' does not directly"):
        data = weight_graph(model, input_shape=(2, 5, 5), bn='fold')
    torch.testing.assert_close(block(dense(data), data, 1, 0),
                               model[0].weight.detach().norm(dim=(2, 3)),
                               rtol=1e-6, atol=0)


# Residual networks ###########################################################


class Block(nn.Module):
    def __init__(self, cin: int, cout: int, project: bool) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.shortcut = nn.Sequential(
            nn.Conv2d(cin, cout, 1, bias=False),
            nn.BatchNorm2d(cout)) if project else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return F.relu(out + self.shortcut(x))


class TinyResNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Conv2d(3, 4, 3, padding=1)
        self.block1 = Block(4, 4, project=False)
        self.block2 = Block(4, 6, project=True)
        self.fc = nn.Linear(6, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.block2(self.block1(self.stem(x)))
        return self.fc(x.mean((2, 3)))


def test_identity_and_projection_shortcuts():
    torch.manual_seed(4)
    model = TinyResNet()
    data = weight_graph(model, input_shape=(3, 6, 6))
    assert data.layer_names == [
        'input', 'stem', 'block1.conv1', 'block1.conv2', 'block2.conv1',
        'block2.conv2+block2.shortcut.0', 'fc'
    ]
    assert data.num_nodes == 3 + 4 + 4 + 4 + 6 + 6 + 2
    # stem, b1.conv1, b1.conv2, identity, b2.conv1, b2.conv2, shortcut, fc
    assert data.num_edges == 2 * (12 + 16 + 16 + 4 + 24 + 36 + 24 + 12)
    adj = dense(data)
    # Identity shortcut: channel i of the block input to channel i of the
    # block output (the nodes of block1.conv2), weight 1.
    assert torch.equal(block(adj, data, 3, 1), torch.eye(4))
    # Projection shortcut: its 1x1 kernels link the block input (the output
    # of block1) to the shared output nodes.
    sc = model.block2.shortcut[0].weight.detach()[:, :, 0, 0]
    torch.testing.assert_close(block(adj, data, 5, 3), sc.abs(), rtol=1e-6,
                               atol=0)
    torch.testing.assert_close(
        block(adj, data, 5, 4),
        model.block2.conv2.weight.detach().norm(dim=(2, 3)), rtol=1e-6,
        atol=0)


def test_projection_computed_first_keeps_depth_order():
    class ShortcutFirst(Block):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            short = self.shortcut(x)
            out = F.relu(self.bn1(self.conv1(x)))
            return F.relu(self.bn2(self.conv2(out)) + short)

    data = weight_graph(ShortcutFirst(3, 5, project=True),
                        input_shape=(3, 4, 4))
    assert data.layer_names == ['input', 'conv1', 'shortcut.0+conv2']
    layer = data.layer[data.edge_index]
    assert set(zip(layer[0].tolist(), layer[1].tolist())) == {
        (1, 0), (0, 1), (2, 1), (1, 2), (2, 0), (0, 2)}


def test_single_conv_residual_combines_parallel_weights():
    # y = conv(x) + x: the kernel slice W[i, i] and the identity link the
    # same pair, and combine into sqrt(||W[i, i]||^2 + 1).
    class Residual(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.stem = nn.Conv2d(1, 2, 1)
            self.conv = nn.Conv2d(2, 2, 3, padding=1)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            x = self.stem(x)
            return self.conv(x) + x

    torch.manual_seed(5)
    model = Residual()
    data = weight_graph(model, input_shape=(1, 4, 4))
    norm = model.conv.weight.detach().norm(dim=(2, 3))
    expected = torch.sqrt(norm**2 + torch.eye(2))
    torch.testing.assert_close(block(dense(data), data, 2, 1), expected,
                               rtol=1e-6, atol=0)


def test_option_a_shortcut_with_channel_padding():
    # CIFAR "option A": subsample and zero-pad channels, no weights.
    class OptionA(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.stem = nn.Conv2d(3, 4, 3, padding=1)
            self.conv = nn.Conv2d(4, 8, 3, stride=2, padding=1)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            x = self.stem(x)
            short = F.pad(x[:, :, ::2, ::2], (0, 0, 0, 0, 2, 2))
            return self.conv(x) + short

    torch.manual_seed(8)
    model = OptionA()
    data = weight_graph(model, input_shape=(3, 8, 8))
    shift = torch.zeros(8, 4)
    shift[2:6] = torch.eye(4)  # channel i feeds channel i + 2
    # The conv reads the same input, so each shortcut weight combines with
    # the kernel norm of that pair.
    norm = model.conv.weight.detach().norm(dim=(2, 3))
    torch.testing.assert_close(block(dense(data), data, 2, 1),
                               torch.sqrt(norm**2 + shift), rtol=1e-6,
                               atol=0)


def test_registry_resnet20():
    models = pytest.importorskip('pyg_dnnmod.models')
    if not hasattr(models, 'get_model'):
        pytest.skip('pyg_dnnmod.models.get_model is not available')
    model = models.get_model('resnet20')
    data = weight_graph(model, input_shape=(3, 32, 32))
    assert data.num_nodes == 3 + 16 + 6 * 16 + 6 * 32 + 6 * 64 + 10
    pairs = sum(m.in_channels * m.out_channels // m.groups
                for m in model.modules() if isinstance(m, nn.Conv2d))
    pairs += sum(m.in_features * m.out_features for m in model.modules()
                 if isinstance(m, nn.Linear))
    identity = 3 * 16 + 2 * 32 + 2 * 64  # blocks without projection
    assert data.num_edges == 2 * (pairs + identity)
    assert int((data.edge_weight == 1).sum()) == 2 * identity
    assert sum('+' in name for name in data.layer_names) == 2


@pytest.mark.skipif(not WITH_TORCHVISION, reason='torchvision unusable')
def test_torchvision_resnet18_inplace_add():
    import torchvision
    model = torchvision.models.resnet18(num_classes=10)
    data = weight_graph(model, input_shape=(3, 32, 32))
    assert data.num_nodes == 3 + 64 + 4 * 64 + 4 * 128 + 4 * 256 + 4 * 512 + 10
    assert 'layer2.0.conv2+layer2.0.downsample.0' in data.layer_names
    identity = 2 * 64 + 128 + 256 + 512  # `out += identity` in place
    assert int((data.edge_weight == 1).sum()) == 2 * identity


# Unrolled ####################################################################


def test_lenet_unrolled_counts(lenet):
    data = weight_graph(lenet, conv='unrolled', input_shape=(3, 32, 32))
    assert data.num_nodes == 3 * 1024 + 6 * 784 + 16 * 100 + 120 + 84 + 10
    # conv1: every output position sees 3 * 5 * 5 inputs; conv2 sees 6 * 5 * 5
    # pooled positions, each a 2 x 2 window of conv1; fc1 sees 400 pooled
    # positions, each a 2 x 2 window of conv2.
    expected = (6 * 784 * 75 + 16 * 100 * 150 * 4 + 120 * 400 * 4 +
                84 * 120 + 10 * 84)
    assert data.num_edges == 2 * expected
    assert data.layer_shapes[1] == (6, 28, 28)


def jacobian(f, x: torch.Tensor) -> torch.Tensor:
    return torch.autograd.functional.jacobian(
        lambda v: f(v.view(1, *x.shape)).reshape(-1), x.reshape(-1))


def test_unrolled_conv_matches_jacobian():
    # Without biases and nonlinearities the unrolled weights are |Jacobian|.
    torch.manual_seed(6)
    conv = nn.Conv2d(4, 6, 3, stride=2, padding=1, dilation=2, groups=2,
                     bias=False)
    model = nn.Sequential(conv)
    data = weight_graph(model, conv='unrolled', input_shape=(4, 7, 7))
    J = jacobian(conv, torch.zeros(4, 7, 7)).abs()
    assert data.num_nodes == 4 * 49 + J.size(0)
    torch.testing.assert_close(block(dense(data), data, 1, 0), J, rtol=1e-6,
                               atol=0)


def test_unrolled_pool_and_linear_match_jacobian():
    torch.manual_seed(7)
    conv1 = nn.Conv2d(1, 2, 3, padding=1, bias=False)
    conv2 = nn.Conv2d(2, 3, 2, bias=False)
    fc = nn.Linear(3 * 2 * 2, 4, bias=False)
    model = nn.Sequential(conv1, nn.AvgPool2d(2), conv2, nn.Flatten(), fc)
    data = weight_graph(model, conv='unrolled', input_shape=(1, 6, 6))
    adj = dense(data)
    # Average pooling over a 2 x 2 window contributes 1/4 to the Jacobian;
    # the graph links each pooled position to its window with weight 1.
    J2 = jacobian(nn.Sequential(nn.AvgPool2d(2), conv2),
                  torch.zeros(2, 6, 6))
    torch.testing.assert_close(block(adj, data, 2, 1), 4 * J2.abs(),
                               rtol=1e-6, atol=0)
    torch.testing.assert_close(block(adj, data, 3, 2),
                               fc.weight.detach().abs(), rtol=1e-6, atol=0)


class SpatialMean(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.mean((2, 3), keepdim=True)


@pytest.mark.parametrize('pool', [
    nn.AvgPool2d(3, stride=2, padding=1, ceil_mode=True),
    nn.AdaptiveAvgPool2d((2, 3)),
    SpatialMean(),
])
def test_unrolled_pool_windows_match_jacobian_support(pool):
    conv = nn.Conv2d(1, 2, 1, bias=False)
    out = pool(torch.zeros(1, 2, 5, 5)).numel()
    fc = nn.Linear(out, 3, bias=False)
    with torch.no_grad():
        conv.weight.fill_(1.0)
        fc.weight.fill_(1.0)
    model = nn.Sequential(conv, pool, nn.Flatten(), fc)
    data = weight_graph(model, conv='unrolled', input_shape=(1, 5, 5))
    J = jacobian(nn.Sequential(pool, nn.Flatten(), fc), torch.zeros(2, 5, 5))
    assert torch.equal(block(dense(data), data, 2, 1) > 0, J != 0)


def test_unrolled_size_error(lenet):
    with pytest.raises(ValueError, match=r"9,590 nodes, more than "
                       r"max_nodes=1,000; pass max_nodes=9590"):
        weight_graph(lenet, conv='unrolled', input_shape=(3, 32, 32),
                     max_nodes=1000)


def test_unrolled_conv1d_error():
    model = nn.Sequential(nn.Conv1d(2, 3, 3))
    with pytest.raises(ValueError, match="supports Conv2d only"):
        weight_graph(model, conv='unrolled', input_shape=(2, 8))


# Bad input ###################################################################


def test_bad_arguments(lenet):
    with pytest.raises(ValueError, match="'conv' must be 'rolled' or "
                       "'unrolled' \\(got 'flat'\\)"):
        weight_graph(lenet, conv='flat', input_shape=(3, 32, 32))
    with pytest.raises(ValueError, match="'bn' must be 'ignore' or 'fold' "
                       "\\(got 'merge'\\)"):
        weight_graph(lenet, bn='merge', input_shape=(3, 32, 32))
    with pytest.raises(ValueError, match="'max_nodes' must be a positive "
                       "integer \\(got 0\\)"):
        weight_graph(lenet, max_nodes=0, input_shape=(3, 32, 32))
    with pytest.raises(ValueError, match="'input_shape' must hold positive "
                       "integers \\(got \\(3, 0, 32\\)\\)"):
        weight_graph(lenet, input_shape=(3, 0, 32))
    with pytest.raises(ValueError, match="'input_shape' is required"):
        weight_graph(lenet)
    with pytest.raises(TypeError, match="'model' must be a torch.nn.Module "
                       "\\(got dict\\)"):
        weight_graph({}, input_shape=(3, 32, 32))
    with pytest.raises(TypeError, match="'signed' must be a bool"):
        weight_graph(lenet, input_shape=(3, 32, 32), signed='yes')


def test_wrong_input_shape(lenet):
    lenet.train()
    with pytest.raises(ValueError, match=r"example input of shape "
                       r"\[2, 3, 28, 28\] \(check 'input_shape'\)"):
        weight_graph(lenet, input_shape=(3, 28, 28))
    assert lenet.training


def test_unsupported_layer():
    model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.ConvTranspose2d(2, 2, 3))
    with pytest.raises(ValueError, match="cannot read the parameter "
                       "'1.weight' used by 'conv_transpose2d'"):
        weight_graph(model, input_shape=(1, 6, 6))


def test_untraceable_input():
    class Scramble(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv = nn.Conv2d(2, 2, 1)
            self.fc = nn.Linear(4, 2)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            x = self.conv(x)
            # Mixes channels and positions: no channel-level map exists.
            return self.fc(x.transpose(1, 2).reshape(x.size(0), -1)[:, :4])

    with pytest.raises(ValueError, match="could not trace the input of "
                       "layer 'fc': it passes through 'transpose'"):
        weight_graph(Scramble(), input_shape=(2, 2, 2))


@pytest.mark.parametrize('value', [float('nan'), float('inf')])
def test_non_finite_weights_warn_naming_the_parameter(value):
    # A diverged network is a legitimate zoo member: a warning, not an error.
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU(),
                          nn.AdaptiveAvgPool2d(2), nn.Flatten(),
                          nn.Linear(16, 5))
    with torch.no_grad():
        model[4].weight[1, 2] = value
    with pytest.warns(UserWarning, match=r"'model' holds NaN or Inf values "
                      r"in \['4.weight'\]") as record:
        data = weight_graph(model, input_shape=(3, 8, 8))
    assert record[0].filename == __file__  # stacklevel=2: the caller
    # Feature 2 of the flattened [4, 2, 2] input is channel 0 (node 3);
    # neuron 1 of '4' is node 3 + 4 + 1 = 8. Only that edge, both stored
    # directions, is not finite.
    bad = ~torch.isfinite(data.edge_weight)
    assert data.edge_index[:, bad].t().tolist() == [[3, 8], [8, 3]]
