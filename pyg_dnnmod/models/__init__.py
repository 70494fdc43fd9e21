r"""The models of Lu et al. (ECCV 2022) and their appendix B variants,
LeNet-5 (Vahedian et al., 2021), AlexNet and the project's default
:class:`DigitsCNN`; all take pixel-space inputs and normalise them inside.
:func:`build_model` builds any of them, or a torchvision or timm
architecture, or a factory's model, by spec.
"""
from pyg_dnnmod.models.normalize import Normalize, NormalizedModel
from pyg_dnnmod.models.vgg import (
    VGG,
    VGG_CHANNELS,
    VGG_CONVS_PER_BLOCK,
    make_vgg_features,
    vgg11,
    vgg13,
    vgg16,
    vgg19,
    vgg_variant,
)
from pyg_dnnmod.models.resnet import (
    RESNET152_BLOCKS,
    RESNET152_REMOVED,
    BasicBlock,
    Bottleneck,
    ResNet,
    cifar_resnet,
    resnet18,
    resnet20,
    resnet32,
    resnet34,
    resnet44,
    resnet50,
    resnet56,
    resnet101,
    resnet110,
    resnet152,
    resnet152_pruned,
)
from pyg_dnnmod.models.lenet import LeNet5, lenet5
from pyg_dnnmod.models.alexnet import AlexNet, alexnet
from pyg_dnnmod.models.digits_cnn import DigitsCNN, digits_cnn
from pyg_dnnmod.models.digits_deep import DigitsDeepCNN, digits_deep_cnn
from pyg_dnnmod.models.registry import get_input_shape, get_model, list_models
from pyg_dnnmod.models.build import (
    SPEC_KINDS,
    build_model,
    check_model_input,
    model_kind,
    reinitialize,
)

__all__ = [
    'Normalize',
    'NormalizedModel',
    'VGG',
    'VGG_CHANNELS',
    'VGG_CONVS_PER_BLOCK',
    'make_vgg_features',
    'vgg11',
    'vgg13',
    'vgg16',
    'vgg19',
    'vgg_variant',
    'ResNet',
    'BasicBlock',
    'Bottleneck',
    'RESNET152_BLOCKS',
    'RESNET152_REMOVED',
    'cifar_resnet',
    'resnet18',
    'resnet34',
    'resnet50',
    'resnet101',
    'resnet152',
    'resnet152_pruned',
    'resnet20',
    'resnet32',
    'resnet44',
    'resnet56',
    'resnet110',
    'LeNet5',
    'lenet5',
    'AlexNet',
    'alexnet',
    'DigitsCNN',
    'digits_cnn',
    'DigitsDeepCNN',
    'digits_deep_cnn',
    'get_model',
    'get_input_shape',
    'list_models',
    'build_model',
    'model_kind',
    'reinitialize',
    'check_model_input',
    'SPEC_KINDS',
]
